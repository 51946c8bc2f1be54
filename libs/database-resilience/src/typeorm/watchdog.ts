/** A watched wait: cancel() before `at`, or `onExpire` runs. */
export interface Watch {
  cancel(): void;
}

interface Entry {
  at: number;
  onExpire: () => void;
}

/**
 * Coarse timers for the common case. Node's setTimeout and clearTimeout cost a statement more than everything
 * else the guard does (measured with callgrind: about 100 000 instructions for a pool wait and a statement
 * timeout); a wait watched here costs a Set insert and delete, and fires within `tickMs` after it is due. Used
 * for the default bounds (pool wait, `queries.timeoutMs`); a caller's own deadline keeps a precise timer.
 */
export class Watchdog {
  private readonly entries = new Set<Entry>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly tickMs: number) {}

  watch(at: number, onExpire: () => void): Watch {
    const entry: Entry = { at, onExpire };
    this.entries.add(entry);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref(); // never what keeps a process alive
    }
    return { cancel: () => this.entries.delete(entry) };
  }

  /** Stops ticking; waits still watched never fire. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  private tick(): void {
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
