/** `retryBudget` options, resolved. */
export interface RetryBudgetPolicy {
  readonly enabled: boolean;
  /** Retries allowed per first attempt over the window (Finagle's percentCanRetry): 0.2 = 20 %. */
  readonly ratio: number;
  /** Retries allowed per second whatever the traffic, so that a quiet service still retries. */
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
}

const BUCKETS = 10;

/**
 * How many retries a database may take, as Finagle's RetryBudget and gRPC's retry throttling bound them: over a
 * sliding window, retries stay below `ratio` × first attempts + `minRetriesPerSecond` × the window. N instances
 * each retrying `maxAttempts` times would multiply the load on a struggling server; with the budget the load
 * stays within (1 + ratio) of the traffic. A first attempt is never refused.
 */
export class RetryBudget {
  private readonly firsts = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private readonly starts = new Array<number>(BUCKETS).fill(-1);
  private readonly bucketMs: number;
  /** The current bucket and when it ends: a first attempt before then is one increment, no arithmetic. */
  private currentSlot = 0;
  private currentEndsAt = -Infinity;
  /** Retries refused since start. */
  refused = 0;

  constructor(
    private readonly policy: RetryBudgetPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.bucketMs = policy.windowMs / BUCKETS;
  }

  /** `now`: the caller's clock reading, when it has one (one Date.now() less on every unit of work). */
  firstAttempt(now: number = this.now()): void {
    if (!this.policy.enabled) return;
    const currentStart = this.currentEndsAt - this.bucketMs;
    const current = now < this.currentEndsAt && now >= currentStart && this.starts[this.currentSlot] === currentStart;
    this.firsts[current ? this.currentSlot : this.bucket(now)]++;
  }

  /** Takes a retry from the budget; false (and counted) when it is spent. */
  tryRetry(): boolean {
    if (!this.policy.enabled) return true;
    const slot = this.bucket();
    if (this.available() < 1) {
      this.refused++;
      return false;
    }
    this.retries[slot]++;
    return true;
  }

  /** Retries the budget still allows now (for the metric): may be fractional. */
  available(): number {
    if (!this.policy.enabled) return Infinity;
    this.bucket(); // drops what left the window
    const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    const allowed =
      this.policy.ratio * sum(this.firsts) + (this.policy.minRetriesPerSecond * this.policy.windowMs) / 1000;
    return Math.max(0, allowed - sum(this.retries));
  }

  /** The current bucket's index; entering a new bucket clears those that fell out of the window. */
  private bucket(now = this.now()): number {
    const start = Math.floor(now / this.bucketMs) * this.bucketMs;
    const slot = Math.floor(start / this.bucketMs) % BUCKETS;
    if (now >= this.currentEndsAt) {
      this.currentSlot = slot;
      this.currentEndsAt = start + this.bucketMs;
    }
    if (this.starts[slot] === start) return slot;
    for (let i = 0; i < BUCKETS; i++) {
      if (i === slot || start - this.starts[i] >= this.policy.windowMs) {
        this.starts[i] = i === slot ? start : -1;
        this.firsts[i] = 0;
        this.retries[i] = 0;
      }
    }
    return slot;
  }
}
