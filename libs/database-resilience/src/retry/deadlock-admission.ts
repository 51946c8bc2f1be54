import { DeadlineExceededError } from '../errors/deadline-exceeded.error';

export interface DeadlockAdmissionPolicy {
  enabled: boolean;
  /** The limit never goes below this many units in flight. */
  minLimit: number;
  /** No deadlock for this long: the limit is lifted (no contention, no admission). */
  quietMs: number;
}

/** What the admin API and the metrics show of one operation's limit. */
export interface AdmissionState {
  database: string;
  operation: string;
  /** Units admitted at once; null while no limit applies. */
  limit: number | null;
  inFlight: number;
  waiting: number;
}

/**
 * The units of one operation in flight at once, limited after it deadlocks (AIMD, as TCP's congestion window):
 * halved on a deadlock (not below `minLimit`) at most once a window (as TCP halves once per round trip: the
 * deadlocks of units that were already running when it halved say nothing of the new limit), grown by 1/limit on
 * each success, lifted after `quietMs` without a deadlock. Without contention it admits at once, with no bookkeeping beyond a counter. Waiters go in order,
 * each until its deadline. A unit's last attempt after a deadlock may ask to run alone (waitAlone()): it goes in once
 * every unit in flight has ended, and none goes in beside it, so that it cannot lose to its own operation again.
 */
export class AdaptiveAdmission {
  private limit = Infinity;
  private inFlight = 0;
  private lastDeadlockAt = 0;
  /** Units ended since the limit last went down: it goes down again only once a whole window has ended. */
  private endedSinceDecrease = 0;
  private readonly waiting: Array<{ admit: () => void; alone: boolean }> = [];
  /** A unit admitted alone is running: nothing else is admitted until it ends. */
  private runningAlone = false;

  constructor(
    private readonly policy: DeadlockAdmissionPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Admits the unit at once if it may run now (the common path: no promise, no timer); false if it must wait(). */
  tryAdmit(): boolean {
    if (this.limit !== Infinity && this.now() - this.lastDeadlockAt > this.policy.quietMs) this.lift();
    if (this.inFlight >= this.limit || this.waiting.length > 0 || this.runningAlone) return false;
    this.inFlight++;
    return true;
  }

  /** After tryAdmit() said false: resolves once the unit may run; rejects with DeadlineExceededError at `deadline`. */
  wait(deadline: { at: number; ms: number } | undefined, database: string): Promise<void> {
    return this.enqueue(deadline, database, false);
  }

  /**
   * Resolves once the unit may run alone among the operation's units (at once if none is in flight or waiting);
   * rejects with DeadlineExceededError at `deadline`. Those that come after it wait until it has ended.
   */
  waitAlone(deadline: { at: number; ms: number } | undefined, database: string): Promise<void> {
    return this.enqueue(deadline, database, true);
  }

  private enqueue(deadline: { at: number; ms: number } | undefined, database: string, alone: boolean) {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        alone,
        admit: () => {
          clearTimeout(timer);
          this.inFlight++;
          this.runningAlone = alone;
          resolve();
        },
      };
      this.waiting.push(waiter);
      this.admitWaiting();
      if (this.waiting.includes(waiter) && deadline !== undefined) {
        timer = setTimeout(
          () => {
            this.waiting.splice(this.waiting.indexOf(waiter), 1);
            reject(new DeadlineExceededError(deadline.ms, database));
            this.admitWaiting(); // those behind a waiter for a run alone may go in now
          },
          Math.max(0, deadline.at - this.now()),
        );
      }
    });
  }

  /** The unit's attempt ended: `deadlocked` if it lost a deadlock. */
  release(deadlocked: boolean): void {
    this.inFlight--;
    this.runningAlone = false; // a unit admitted alone was the only one in flight
    this.endedSinceDecrease++;
    if (deadlocked) {
      this.lastDeadlockAt = this.now();
      if (this.limit === Infinity || this.endedSinceDecrease > this.limit) {
        // From what was running when it deadlocked: the concurrency that conflicted, halved.
        const base = this.limit === Infinity ? this.inFlight + 1 : this.limit;
        this.limit = Math.max(this.policy.minLimit, base / 2);
        this.endedSinceDecrease = 0;
      }
    } else if (this.limit !== Infinity) {
      this.limit += 1 / this.limit;
    }
    this.admitWaiting();
  }

  state(database: string, operation: string): AdmissionState {
    const limit = this.limit === Infinity ? null : Math.floor(this.limit);
    return { database, operation, limit, inFlight: this.inFlight, waiting: this.waiting.length };
  }

  private lift(): void {
    this.limit = Infinity;
    this.admitWaiting();
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && !this.runningAlone) {
      const next = this.waiting[0];
      if (next.alone ? this.inFlight > 0 : this.inFlight >= Math.floor(this.limit)) return;
      this.waiting.shift()!.admit();
    }
  }
}

/** Operations followed at most: beyond, new ones are admitted without a limit (names are the app's to choose). */
const MAX_OPERATIONS = 1000;

/** One admission limit per database and operation (`deadlockAdmission` options), made on first use. */
export class DeadlockAdmissions {
  /** By database, then operation: no key built per unit of work. */
  private readonly limits = new Map<string, Map<string, AdaptiveAdmission>>();
  private count = 0;

  constructor(readonly policy: DeadlockAdmissionPolicy) {}

  /** The operation's limit, or undefined when admission is off. */
  get(database: string, operation: string | undefined): AdaptiveAdmission | undefined {
    if (!this.policy.enabled || operation === undefined) return undefined;
    let operations = this.limits.get(database);
    const known = operations?.get(operation);
    if (known || this.count >= MAX_OPERATIONS) return known;
    if (!operations) this.limits.set(database, (operations = new Map()));
    const admission = new AdaptiveAdmission(this.policy);
    operations.set(operation, admission);
    this.count++;
    return admission;
  }

  /** Every operation's limit (for the admin API and the metrics). */
  states(): AdmissionState[] {
    return [...this.limits].flatMap(([database, operations]) =>
      [...operations].map(([operation, admission]) => admission.state(database, operation)),
    );
  }
}
