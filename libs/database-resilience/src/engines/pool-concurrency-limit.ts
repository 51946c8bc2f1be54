import { ConcurrencyLimitExceededError } from '../errors/concurrency-limit-exceeded.error';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { eventLoopLag } from './event-loop-lag';

export interface ConcurrencyLimitPolicy {
  enabled: boolean;
  /** The limit never goes below this many borrows in flight. */
  minLimit: number;
  /** The limit never goes above this; null: the pool's own size. */
  maxLimit: number | null;
  /** The longest a borrow waits for the limit; null: half the average time a connection is held, at least 10 ms. */
  maxWaitMs: number | null;
}

/** What the admin API and the metrics show of a pool's limit. */
export interface ConcurrencyLimitState {
  database: string;
  limit: number;
  inFlight: number;
  waiting: number;
  /** Borrows shed since start (at once, or when their wait ran out). */
  shed: number;
  /** The long-run average time a connection is held, ms. */
  latencyMs: number;
}

// Gradient2's constants (Netflix concurrency-limits): latency may grow to 1.5× its long-run average before the
// limit falls, each sample moves the limit a fifth of the way, the long average spans about 600 samples. The
// headroom above what the gradient allows is √limit / 2, not Gradient2's fixed 4: with 4 the limit never falls
// below 8, more than many pools hold; with √limit / 2 a latency three times its average brings it down to 1.
const TOLERANCE = 1.5;
const SMOOTHING = 0.2;
const LONG_WINDOW = 600;
const WARMUP = 10;
const MIN_WAIT_MS = 10;
const MAX_WAITERS = 1000;
const SAMPLE_EVERY = 8;

type Entered = (error?: Error, ticket?: number) => void;
interface Waiter {
  readonly entered: Entered;
  timer?: NodeJS.Timeout;
}

/**
 * The number of borrows from one pool in flight at once (a borrow: from taking a connection to giving it back),
 * following the time connections are held, as Netflix's Gradient2: while that time stays within 1.5× its long-run
 * average the limit climbs to `maxLimit` (the pool's size), when it grows the limit falls with it. A borrow past
 * the limit waits in a FIFO queue only if, by when the borrows in flight began and the average time, it would be
 * admitted within the queue's wait; otherwise it is shed at once (ConcurrencyLimitExceededError, answered 503 with
 * Retry-After), instead of waiting for the pool until `pool.acquireTimeoutMs`.
 */
export class PoolConcurrencyLimit {
  private limit: number;
  /** The limit as borrows: rounded, so that one slow borrow does not take a slot from a small pool. */
  private slots: number;
  /** The ticket of each borrow in flight (when it was admitted: see admit()), oldest first. */
  private readonly starts: number[] = [];
  private shed = 0;
  private samples = 0;
  private longRttMs = 0;
  /** The mean deviation of the time from its average (as TCP's RTTVAR). */
  private deviationMs = 0;
  private readonly waiting: Waiter[] = [];
  private readonly maxLimit: number;
  /** The clock's last reading, and the borrows admitted since one was timed. */
  private lastNow = 0;
  private untimed = 0;

  constructor(
    private readonly policy: ConcurrencyLimitPolicy,
    private readonly database: string,
    /** The pool's size (maxLimit when the policy leaves it null). */
    poolSize: number,
    private readonly now: () => number = () => performance.now(),
    /** The app's own event-loop lag at `now` (ms): taken off each time, so that CPU starvation is not a slow database. */
    private readonly lag: (now: number) => number = (now) => eventLoopLag.currentMs(now),
  ) {
    this.maxLimit = Math.max(policy.minLimit, policy.maxLimit ?? poolSize);
    this.limit = this.slots = this.maxLimit; // starts open: shedding before anything was measured would surprise
  }

  /** Admits a borrow at once if the limit allows (no promise, no timer): its ticket, to give back to leave(). */
  tryEnter(): number | undefined {
    return this.starts.length < this.slots && this.waiting.length === 0 ? this.admit() : undefined;
  }

  /**
   * What a guard takes at a borrow: tryEnter()'s ticket, or past the limit a promise of it, which rejects with the
   * error when the borrow is shed (at once, or when its wait runs out) or its deadline passes.
   */
  admission(deadline: { at: number; ms: number } | undefined): number | Promise<number> {
    const ticket = this.tryEnter();
    if (ticket !== undefined) return ticket;
    return new Promise<number>((resolve, reject) => {
      const refused = this.enter(deadline, (error, admitted) => (error ? reject(error) : resolve(admitted!)));
      if (refused) reject(refused);
    });
  }

  /**
   * After tryEnter() said no: an error when the borrow is shed at once; else undefined, and `entered` is called once
   * it may go on, with its ticket, or with the error when its wait or its deadline ran out.
   */
  enter(deadline: { at: number; ms: number } | undefined, entered: Entered): Error | undefined {
    const waitMs = this.policy.maxWaitMs ?? Math.max(MIN_WAIT_MS, this.longRttMs / 2);
    if (this.expectedWaitMs() > waitMs || this.waiting.length >= MAX_WAITERS) return this.shedOne();
    const leftMs = deadline === undefined ? Infinity : deadline.at - Date.now();
    const waiter: Waiter = { entered };
    waiter.timer = setTimeout(
      () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        entered(leftMs < waitMs ? new DeadlineExceededError(deadline!.ms, this.database) : this.shedOne());
      },
      Math.max(0, Math.min(waitMs, leftMs)),
    );
    this.waiting.push(waiter);
    return undefined;
  }

  /** A borrow ended (`ticket`: what admitted it); `sampled`: it held a connection, its time counts. */
  leave(ticket: number, sampled: boolean): void {
    const inFlight = this.starts.length;
    // Borrows mostly end in the order they began: the oldest, without the array splice() would allocate.
    if (this.starts[0] === ticket) this.starts.shift();
    else {
      const index = this.starts.indexOf(ticket);
      if (index === -1) return;
      this.starts.splice(index, 1);
    }
    if (sampled && ticket >= 0) {
      const now = (this.lastNow = this.now());
      this.sample(now - ticket - this.lag(now), inFlight);
    }
    while (this.waiting.length > 0 && this.starts.length < this.slots) {
      const waiter = this.waiting.shift()!;
      clearTimeout(waiter.timer);
      waiter.entered(undefined, this.admit());
    }
  }

  state(): ConcurrencyLimitState {
    return {
      database: this.database,
      limit: this.slots,
      inFlight: this.starts.length,
      waiting: this.waiting.length,
      shed: this.shed,
      latencyMs: Math.round(this.longRttMs * 100) / 100,
    };
  }

  private sample(rttMs: number, inFlight: number): void {
    const rtt = Math.max(rttMs, 0.001);
    this.samples++;
    const weight = this.samples <= WARMUP ? 1 / this.samples : 2 / (LONG_WINDOW + 1);
    if (this.samples > 1) this.deviationMs += (Math.abs(rtt - this.longRttMs) - this.deviationMs) * weight;
    this.longRttMs += (rtt - this.longRttMs) * weight;
    // Back to normal after a long slow spell: the long average comes down faster than its window would let it.
    if (this.longRttMs / rtt > 2) this.longRttMs *= 0.95;
    if (inFlight < this.limit / 2) return; // the app asks for little: the latency says nothing of the limit
    const gradient = Math.max(0.5, Math.min(1, (TOLERANCE * this.longRttMs) / rtt));
    const next = this.limit * (1 - SMOOTHING) + (this.limit * gradient + Math.sqrt(this.limit) / 2) * SMOOTHING;
    this.limit = Math.max(this.policy.minLimit, Math.min(this.maxLimit, next));
    this.slots = Math.round(this.limit);
  }

  /**
   * Its ticket: when it began. While the app asks for less than half the limit (its latency then says nothing of
   * the limit) one borrow in SAMPLE_EVERY is timed, so that the long average keeps learning at a fraction of the
   * clock reads; the others take the last time read, as `-time - 1` so that leave() does not time them.
   */
  private admit(): number {
    let ticket: number;
    if ((this.starts.length + 1) * 2 < this.limit && ++this.untimed < SAMPLE_EVERY) ticket = -this.lastNow - 1;
    else {
      this.untimed = 0;
      ticket = this.lastNow = this.now();
    }
    this.starts.push(ticket);
    return ticket;
  }

  /**
   * When the next waiter would be admitted, from when the borrows in flight began and how long one lasts: it goes
   * in once (in flight − limit + 1 + waiters ahead) of them have ended, taken oldest first, around again for
   * more, plus four times the times' mean deviation (as TCP's retransmission timeout: a waiter promised the
   * average would time out half the time, and be answered 503 only after waiting). Borrows
   * begun together end together: a count and an average would promise a wait the queue cannot keep.
   */
  private expectedWaitMs(): number {
    const inFlight = this.starts.length;
    if (inFlight === 0) return 0;
    const endings = Math.max(0, inFlight - this.slots) + this.waiting.length;
    const ticket = this.starts[endings % inFlight];
    const start = ticket >= 0 ? ticket : -ticket - 1;
    return start + (Math.floor(endings / inFlight) + 1) * this.longRttMs + 4 * this.deviationMs - this.now();
  }

  private shedOne(): ConcurrencyLimitExceededError {
    this.shed++;
    return ConcurrencyLimitExceededError.create(this.database, this.slots);
  }
}
