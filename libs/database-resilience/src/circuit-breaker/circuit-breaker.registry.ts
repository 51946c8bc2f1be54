import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ResilienceEvents } from '../events/resilience-events';
import { storeSettingsOf, type ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import {
  CircuitBreaker,
  type CircuitBreakerSnapshot,
  type CircuitState,
  type CircuitBreakerView,
} from './circuit-breaker';
import { SharedStateStore, type SharedStateMessage } from '../shared-state/shared-state-store';
import { ResilienceLogger } from '../events/resilience-logger';

/**
 * One circuit breaker per database (TypeORM DataSource name), and named ones on demand. Every transition is
 * logged and emitted as a `breaker-state` event.
 */
@Injectable()
export class CircuitBreakerRegistry implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private readonly breakers = new Map<string, CircuitBreaker>();
  /** Set while a state from another instance is applied: it is not published back. */
  private applyingRemote = false;
  private readonly probers = new Map<string, () => Promise<boolean>>();
  private readonly probeTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly events: ResilienceEvents,
    private readonly store: SharedStateStore,
  ) {
    for (const name of options.databases) this.get(name);
    store.subscribe((message) => this.applyShared(message));
  }

  /** An instance that starts while another has a breaker open starts with it open. */
  async onApplicationBootstrap(): Promise<void> {
    const settings = storeSettingsOf(this.options);
    await this.store.ready(settings?.type === 'redis' ? settings.timeoutMs * 4 : 0);
    for (const message of await this.store.storedStates())
      if (message.kind === 'breaker' && message.state === 'open') this.applyShared(message);
  }

  /** What an app reads of the breaker of that name: its state, when calls may go again, a snapshot. */
  get(name: string): CircuitBreakerView {
    return this.breaker(name);
  }

  /** The breaker of that name, made on first use: for the module's own parts, which feed it. */
  breaker(name: string): CircuitBreaker {
    let breaker = this.breakers.get(name);
    if (!breaker) {
      // The scheduled health check checks the DataSources, and closes their open breakers when they answer.
      const { enabled, intervalMs, timeoutMs } = this.options.healthCheck;
      const checked = enabled && this.options.databases.includes(name);
      const policy = { ...this.options.circuitBreaker, closedByCheckWithinMs: checked ? intervalMs + timeoutMs : null };
      breaker = new CircuitBreaker(
        name,
        policy,
        (b, state) => this.transitioned(b, state),
        Date.now,
        // Built only if someone listens (tracing): a rejection is the path that must cost nothing.
        (b) =>
          this.events.wants('breaker-rejected') &&
          this.events.emit({ type: 'breaker-rejected', at: Date.now(), database: b.name }),
      );
      this.breakers.set(name, breaker);
    }
    return breaker;
  }

  /** Whether any breaker is open: cheaper than list(), for checks made on each request. */
  anyOpen(): boolean {
    for (const breaker of this.breakers.values()) if (breaker.state === 'open') return true;
    return false;
  }

  list(): CircuitBreakerSnapshot[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }

  /** Closes the breaker; false if there is none of that name. */
  reset(name: string): boolean {
    const breaker = this.breakers.get(name);
    breaker?.reset();
    return breaker !== undefined;
  }

  /** Opens the breaker until reset (maintenance, a failover in progress). */
  forceOpen(name: string): CircuitBreakerSnapshot {
    const breaker = this.breaker(name);
    breaker.forceOpen();
    return breaker.snapshot();
  }

  /** How to probe the server behind a breaker (`probe: 'background'`); the connection guard gives it. */
  setProber(name: string, probe: () => Promise<boolean>): void {
    this.probers.set(name, probe);
  }

  private scheduleProbe(breaker: CircuitBreaker): void {
    const probe = this.probers.get(breaker.name);
    if (this.options.circuitBreaker.probe !== 'background' || !probe || this.probeTimers.has(breaker.name)) return;
    const timer = setTimeout(async () => {
      this.probeTimers.delete(breaker.name);
      if (breaker.state !== 'open' || breaker.isForced) return;
      const ok = await probe().catch(() => false);
      breaker.probed(ok);
      if (!ok) this.scheduleProbe(breaker);
    }, breaker.probeDueIn());
    timer.unref();
    this.probeTimers.set(breaker.name, timer);
  }

  onModuleDestroy(): void {
    for (const timer of this.probeTimers.values()) clearTimeout(timer);
  }

  /**
   * Another instance's state, already checked by the store. Only for breakers this instance has: names from
   * Redis never make new breakers (a forged stream of names would grow memory, /metrics and alerts without bound).
   */
  private applyShared(message: SharedStateMessage): void {
    if (message.kind !== 'breaker' || !this.breakers.has(message.name)) return;
    this.applyingRemote = true;
    try {
      this.breaker(message.name).applyRemote(message.state, message.openedAt, message.forced);
    } finally {
      this.applyingRemote = false;
    }
  }

  private transitioned(breaker: CircuitBreaker, state: CircuitState): void {
    if (!this.applyingRemote && state !== 'half-open') {
      const { origin } = this.store;
      void this.store.publish({
        kind: 'breaker',
        origin,
        name: breaker.name,
        state,
        openedAt: breaker.openedSince,
        forced: breaker.isForced,
      });
    }
    if (state === 'open') this.scheduleProbe(breaker);
    const line = `Circuit breaker "${breaker.name}" is now ${state}${this.applyingRemote ? ' (shared by another instance)' : ''}`;
    const fields = { event: `breaker-${state}`, database: breaker.name };
    if (state === 'open') this.logger.warn(line, fields);
    else this.logger.log(line, fields);
    this.events.emit({ type: 'breaker-state', at: Date.now(), database: breaker.name, state });
  }
}
