import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

/**
 * How late the event loop runs its callbacks now, in ms: the app's own CPU starvation. A borrow's time includes it
 * (the database's answer waits in the socket until the loop comes to it) though it says nothing of the database.
 * Node's own histogram samples it natively, one per process, read at most once per resolution.
 */
class EventLoopLag {
  private histogram?: IntervalHistogram;
  private count = 0;
  private sumNs = 0;
  private lagMs = 0;
  private readAt = -Infinity;

  /** `now`: the caller's clock reading (performance.now()). */
  currentMs(now: number): number {
    if (now - this.readAt < RESOLUTION_MS) return this.lagMs;
    this.readAt = now;
    if (!this.histogram) {
      this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
      this.histogram.enable();
      return 0;
    }
    const count = this.histogram.count;
    if (count > this.count) {
      const sumNs = this.histogram.mean * count;
      // The mean delay of the timer's ticks since the last read, less the resolution it was set to.
      this.lagMs = Math.max(0, (sumNs - this.sumNs) / (count - this.count) / 1e6 - RESOLUTION_MS);
      this.count = count;
      this.sumNs = sumNs;
    }
    if (count > 1_000_000) {
      this.histogram.reset(); // the running sum stays precise
      this.count = this.sumNs = 0;
    }
    return this.lagMs;
  }
}

export const eventLoopLag = new EventLoopLag();
