import { CircuitOpenError } from './circuit-open.error';

import type { CircuitState } from '../events/resilience-event';

export type { CircuitState };

export interface CircuitBreakerPolicy {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** Or: this share of failures among the calls of the last `windowMs`... */
  failureRateThreshold: number;
  /** ...once there were at least this many calls in it. */
  minimumCalls: number;
  windowMs: number;
  /** Time open before a probe is let through. */
  recoveryTimeoutMs: number;
  /**
   * Set: the first probe after an opening comes this soon, and each failed probe doubles the wait, up to
   * `recoveryTimeoutMs` (behind HAProxy, traffic a check has moved finds a closed breaker within a probe).
   */
  firstProbeAfterMs?: number | null;
  /** Probes let through at once while half-open. */
  halfOpenMaxProbes: number;
  /** Probe successes that close the breaker. */
  successThreshold: number;
  /** `background`: a SELECT 1 of the module probes, user calls are never let through to find out. */
  probe: 'request' | 'background';
  /**
   * Set when something outside the breaker closes it once the server answers (the scheduled health check): the
   * longest that takes. An open breaker's Retry-After is then the sooner of this and the next probe.
   */
  closedByCheckWithinMs?: number | null;
}

/** What `CircuitBreakerRegistry.list()` shows of a breaker. */
export interface CircuitBreakerSnapshot {
  name: string;
  state: CircuitState;
  consecutiveFailures: number;
  /** Calls and failures counted in the current window. */
  windowCalls: number;
  windowFailures: number;
  openedAt: string | null;
  /** When an open breaker lets the next probe through. */
  nextProbeAt: string | null;
  /** Set by forceOpen(): stays open until reset. */
  forced: boolean;
  /** Calls rejected while open, since start. */
  rejected: number;
}

const BUCKETS = 10;

/**
 * What an app reads of a breaker (`CircuitBreakerRegistry.get()`): the module's own parts feed it; an app opens or
 * resets one through the registry (`forceOpen()`, `reset()`).
 */
export interface CircuitBreakerView {
  readonly name: string;
  readonly state: CircuitState;
  /** While open: how long until a call may go again (the next probe), in ms. */
  retryAfterMs(): number | undefined;
  snapshot(): CircuitBreakerSnapshot;
}

/**
 * One breaker: closed → open after `failureThreshold` consecutive failures or a failure rate over the window;
 * open → half-open after `recoveryTimeoutMs` (or after `firstProbeAfterMs`, doubled at each failed probe);
 * half-open lets `halfOpenMaxProbes` through and closes after `successThreshold` successes, or opens again at
 * the first failure. Only failures that say the server is unwell are reported to it. A state machine with no
 * I/O: time comes from `now`, so tests drive it with a fake clock.
 */
export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  /** How long this opening waits before its probe. */
  private waitMs = 0;
  private forced = false;
  private probesInFlight = 0;
  private lastProbeAt = 0;
  private probeSuccesses = 0;
  /** Calls rejected while open, since start. */
  private rejected = 0;
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly failures = new Array<number>(BUCKETS).fill(0);
  private readonly bucketStarts = new Array<number>(BUCKETS).fill(-1);

  constructor(
    readonly name: string,
    private readonly policy: CircuitBreakerPolicy,
    private readonly onTransition: (breaker: CircuitBreaker, state: CircuitState) => void = () => undefined,
    private readonly now: () => number = Date.now,
    private readonly onRejected: (breaker: CircuitBreaker) => void = () => undefined,
  ) {}

  get state(): CircuitState {
    return this.current;
  }

  /** Throws CircuitOpenError if the call must not go to the server. In half-open, takes a probe slot. */
  admit(): void {
    const rejected = this.rejection();
    if (rejected) throw rejected;
    if (this.current !== 'half-open') return;
    // A few probes at a time; a probe that never reported frees its slot after the recovery timeout.
    const now = this.now();
    if (
      this.probesInFlight >= this.policy.halfOpenMaxProbes &&
      now - this.lastProbeAt < this.policy.recoveryTimeoutMs
    ) {
      throw this.reject(this.retryAfter(this.lastProbeAt + this.policy.recoveryTimeoutMs - now));
    }
    this.probesInFlight++;
    this.lastProbeAt = now;
  }

  /**
   * The rejection of a call, returned rather than thrown (the cheap path while a server is down): a
   * CircuitOpenError while open and before the next probe is due; past that, the breaker turns half-open and the
   * call may go. Takes no probe slot: admit() does, for the calls the connection guard sees.
   */
  rejection(): CircuitOpenError | undefined {
    if (this.current !== 'open') return undefined;
    const untilProbe = this.openedAt + this.waitMs - this.now();
    if (this.forced || untilProbe > 0 || this.policy.probe === 'background') {
      return this.reject(this.forced ? this.policy.recoveryTimeoutMs : this.retryAfter(untilProbe));
    }
    this.transition('half-open');
    this.probeSuccesses = 0;
    this.probesInFlight = 0;
    return undefined;
  }

  /** Counted, and told (a `breaker-rejected` event: the span of the call rejected gets it). */
  private reject(retryAfterMs: number): CircuitOpenError {
    this.rejected++;
    this.onRejected(this);
    return CircuitOpenError.create(this.name, retryAfterMs);
  }

  /** While open: milliseconds until a request can next succeed (what Retry-After says); undefined otherwise. */
  retryAfterMs(): number | undefined {
    if (this.current !== 'open') return undefined;
    const wait = this.openedAt + this.waitMs - this.now();
    return this.forced ? this.policy.recoveryTimeoutMs : this.retryAfter(wait);
  }

  /** When a request can next succeed: the next probe, or the health check that closes the breaker sooner. */
  private retryAfter(untilProbeMs: number): number {
    return Math.max(0, Math.min(untilProbeMs, this.policy.closedByCheckWithinMs ?? Infinity));
  }

  success(): void {
    this.count(false);
    this.consecutiveFailures = 0;
    if (this.current !== 'half-open') return;
    this.probesInFlight = Math.max(0, this.probesInFlight - 1);
    if (++this.probeSuccesses >= this.policy.successThreshold) this.transition('closed');
  }

  /** A failure that says the server is unwell. */
  failure(): void {
    this.count(true);
    this.consecutiveFailures++;
    if (this.current === 'half-open') return this.open();
    if (
      this.current === 'closed' &&
      (this.consecutiveFailures >= this.policy.failureThreshold || this.rateExceeded())
    ) {
      this.open();
    }
  }

  /** Milliseconds until a probe is due (0: now). */
  probeDueIn(): number {
    return Math.max(0, this.openedAt + this.waitMs - this.now());
  }

  /** The outcome of a background probe: closes the breaker, or keeps it open for its next wait. */
  probed(ok: boolean): void {
    if (this.current === 'closed' || this.forced) return;
    if (ok) this.reset();
    else this.open();
  }

  /** Takes the state another instance published: open (with its time) or closed. Half-open stays local. */
  applyRemote(state: CircuitState, openedAt: number, forced: boolean): void {
    if (state === 'open' && this.current !== 'open') {
      this.forced = forced;
      this.openedAt = openedAt;
      this.waitMs = this.firstWaitMs();
      this.probesInFlight = 0;
      this.transition('open');
    } else if (state === 'closed' && this.current !== 'closed') {
      this.reset();
    }
  }

  /** When it opened (ms since epoch), for sharing. */
  get openedSince(): number {
    return this.openedAt;
  }

  get isForced(): boolean {
    return this.forced;
  }

  /** Open until reset(), whatever the server does. */
  forceOpen(): void {
    this.forced = true;
    this.open();
  }

  reset(): void {
    this.forced = false;
    this.consecutiveFailures = 0;
    this.calls.fill(0);
    this.failures.fill(0);
    this.bucketStarts.fill(-1);
    if (this.current !== 'closed') this.transition('closed');
  }

  snapshot(): CircuitBreakerSnapshot {
    const { calls, failures } = this.windowTotals();
    const open = this.current === 'open';
    return {
      name: this.name,
      state: this.current,
      consecutiveFailures: this.consecutiveFailures,
      windowCalls: calls,
      windowFailures: failures,
      openedAt: this.current === 'closed' ? null : new Date(this.openedAt).toISOString(),
      nextProbeAt: open && !this.forced ? new Date(this.openedAt + this.waitMs).toISOString() : null,
      forced: this.forced,
      rejected: this.rejected,
    };
  }

  private open(): void {
    // A failed probe (half-open, or a background probe while open) doubles the wait; a first opening starts it.
    const reopened = this.current !== 'closed' && this.waitMs > 0;
    const recovery = this.policy.recoveryTimeoutMs;
    this.waitMs = reopened ? Math.min(this.waitMs * 2, recovery) : this.firstWaitMs();
    this.openedAt = this.now();
    this.probesInFlight = 0;
    if (this.current !== 'open') this.transition('open');
  }

  private firstWaitMs(): number {
    return Math.min(this.policy.firstProbeAfterMs ?? Infinity, this.policy.recoveryTimeoutMs);
  }

  private transition(state: CircuitState): void {
    this.current = state;
    this.onTransition(this, state);
  }

  private count(failed: boolean): void {
    const now = this.now();
    const span = this.policy.windowMs / BUCKETS;
    const start = now - (now % span);
    const i = Math.floor(start / span) % BUCKETS;
    if (this.bucketStarts[i] !== start) {
      this.bucketStarts[i] = start;
      this.calls[i] = 0;
      this.failures[i] = 0;
    }
    this.calls[i]++;
    if (failed) this.failures[i]++;
  }

  private windowTotals(): { calls: number; failures: number } {
    const oldest = this.now() - this.policy.windowMs;
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.bucketStarts[i] > oldest) {
        calls += this.calls[i];
        failures += this.failures[i];
      }
    }
    return { calls, failures };
  }

  private rateExceeded(): boolean {
    const { calls, failures } = this.windowTotals();
    return calls >= this.policy.minimumCalls && failures / calls >= this.policy.failureRateThreshold;
  }
}
