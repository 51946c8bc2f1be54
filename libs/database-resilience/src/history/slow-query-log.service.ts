import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { SlowQueryEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';

/** A slow statement as the log shows it: fingerprint only, never values. */
export interface SlowQueryView {
  at: string;
  database: string;
  fingerprint: string;
  durationMs: number;
  requestId: string | undefined;
  route: string | undefined;
}

/** The slowest statements by fingerprint since start. */
export interface SlowQueryTotals {
  database: string;
  fingerprint: string;
  count: number;
  maxMs: number;
  meanMs: number;
}

/** Beyond this many distinct fingerprints, the least seen one makes room (a bounded map whatever the SQL). */
const MAX_FINGERPRINTS = 500;

/** The statements slower than `queries.slowQueryMs`: the newest (bounded ring) and totals by fingerprint. */
@Injectable()
export class SlowQueryLog implements OnModuleDestroy {
  private readonly ring: Array<SlowQueryEvent | undefined>;
  private next = 0;
  private size = 0;
  private readonly totals = new Map<string, SlowQueryTotals & { sumMs: number }>();
  private readonly unsubscribe: () => void;

  constructor(events: ResilienceEvents, @Inject(RESILIENCE_OPTIONS) options: ResolvedResilienceOptions) {
    this.ring = new Array<SlowQueryEvent | undefined>(options.queries.slowQueryLogSize);
    this.unsubscribe = events.subscribe((event) => event.type === 'slow-query' && this.record(event), {
      types: ['slow-query'],
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Newest first. */
  recent(limit = 50): SlowQueryView[] {
    const found: SlowQueryView[] = [];
    for (let i = 1; i <= this.size && found.length < limit; i++) {
      const event = this.ring[(this.next - i + this.ring.length) % this.ring.length]!;
      const { database, fingerprint, requestId, route } = event;
      found.push({
        at: new Date(event.at).toISOString(),
        database,
        fingerprint,
        durationMs: event.durationMs,
        requestId,
        route,
      });
    }
    return found;
  }

  /** The fingerprints seen slow most often. */
  top(limit = 10): SlowQueryTotals[] {
    return [...this.totals.values()]
      .sort((a, b) => b.count - a.count || b.maxMs - a.maxMs)
      .slice(0, limit)
      .map(({ database, fingerprint, count, maxMs, sumMs }) => ({
        database,
        fingerprint,
        count,
        maxMs: round(maxMs),
        meanMs: round(sumMs / count),
      }));
  }

  private record(event: SlowQueryEvent): void {
    this.ring[this.next] = event;
    this.next = (this.next + 1) % this.ring.length;
    if (this.size < this.ring.length) this.size++;
    const key = `${event.database}\u0000${event.fingerprint}`;
    let totals = this.totals.get(key);
    if (!totals) {
      if (this.totals.size >= MAX_FINGERPRINTS) this.evictLeastSeen();
      totals = { database: event.database, fingerprint: event.fingerprint, count: 0, maxMs: 0, meanMs: 0, sumMs: 0 };
      this.totals.set(key, totals);
    }
    totals.count++;
    totals.sumMs += event.durationMs;
    totals.maxMs = Math.max(totals.maxMs, event.durationMs);
  }

  private evictLeastSeen(): void {
    let least: string | undefined;
    let count = Infinity;
    for (const [key, totals] of this.totals) if (totals.count < count) [least, count] = [key, totals.count];
    if (least !== undefined) this.totals.delete(least);
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
