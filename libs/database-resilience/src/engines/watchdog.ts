/** A watched wait: cancel() before `at`, or `onExpire` runs. */
export interface Watch {
  cancel(): void;
}

/** What the watchdog watches: `onExpire` runs once `at` has passed, unless deleted before. */
export interface Watched {
  at: number;
  onExpire(): void;
}

/**
 * Coarse timers for the common case. Node's setTimeout and clearTimeout cost a statement more than everything
 * else the guard does; a wait watched here costs a Set insert and delete (cheapest when the same object, whose
 * identity hash V8 has already made, is watched again: the guard watches each connection's own state), and
 * fires within `tickMs` after it is due. Used for the default bounds (pool wait, `queries.timeoutMs`); a
 * caller's own deadline keeps a precise timer. Ticks only while something is watched.
 */
export class Watchdog {
  private readonly entries = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly tickMs: number) {}

  add(entry: Watched): void {
    this.entries.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref(); // never what keeps a process alive
    }
  }

  delete(entry: Watched): void {
    this.entries.delete(entry);
  }

  watch(at: number, onExpire: () => void): Watch {
    const entry: Watched = { at, onExpire };
    this.add(entry);
    return { cancel: () => this.delete(entry) };
  }

  /** Stops ticking; waits still watched never fire. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  private tick(): void {
    if (this.entries.size === 0) return this.stop();
    const now = Date.now();
    for (const entry of this.entries) {
      if (entry.at > now) continue;
      this.entries.delete(entry);
      entry.onExpire();
    }
  }
}

/** A precise timer behind the same interface, for a caller's own deadline. */
export function preciseWatch(at: number, onExpire: () => void): Watch {
  const timer = setTimeout(onExpire, Math.max(0, at - Date.now()));
  return { cancel: () => clearTimeout(timer) };
}
