import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';

/** One change of state an operator wants on a timeline. */
export type TimelineEntry =
  | { at: string; kind: 'breaker'; database: string; state: 'closed' | 'open' | 'half-open' }
  | { at: string; kind: 'degradation'; database: string; degraded: boolean; reason: string }
  | { at: string; kind: 'health'; database: string; up: boolean }
  | {
      at: string;
      kind: 'writer';
      database: string;
      previous: string | null;
      current: string | null;
      evicted: number;
      writesFailedMs: number;
    };

const CAPACITY = 500;

/**
 * "Since when, and what happened": breaker transitions, degradation periods, health changes and writer failovers,
 * newest first,
 * the last 500 kept. Health checks are entered only when their status changes.
 */
@Injectable()
export class TimelineService implements OnModuleDestroy {
  private readonly entries: TimelineEntry[] = [];
  private readonly lastHealth = new Map<string, boolean>();
  private readonly unsubscribe: () => void;

  constructor(events: ResilienceEvents) {
    this.unsubscribe = events.subscribe((event) => this.observe(event), {
      types: ['breaker-state', 'degradation', 'health-checked', 'writer-changed'],
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Newest first, optionally of one database and since a time. */
  list(query: { database?: string; sinceMs?: number } = {}): TimelineEntry[] {
    const since = query.sinceMs === undefined ? '' : new Date(query.sinceMs).toISOString();
    return this.entries
      .filter((e) => (query.database === undefined || e.database === query.database) && e.at >= since)
      .reverse();
  }

  /** Most events are none of the timeline's: they cost a type check, nothing more (no date formatted). */
  private observe(event: ResilienceEvent): void {
    if (event.type === 'breaker-state') {
      this.add({ at: isoOf(event.at), kind: 'breaker', database: event.database, state: event.state });
    } else if (event.type === 'degradation') {
      const { database, degraded, reason } = event;
      this.add({ at: isoOf(event.at), kind: 'degradation', database, degraded, reason });
    } else if (event.type === 'health-checked') {
      if (this.lastHealth.get(event.database) === event.up) return;
      this.lastHealth.set(event.database, event.up);
      this.add({ at: isoOf(event.at), kind: 'health', database: event.database, up: event.up });
    } else if (event.type === 'writer-changed') {
      const { database, previous, current, evicted, writesFailedMs } = event;
      this.add({ at: isoOf(event.at), kind: 'writer', database, previous, current, evicted, writesFailedMs });
    }
  }

  private add(entry: TimelineEntry): void {
    this.entries.push(entry);
    if (this.entries.length > CAPACITY) this.entries.shift();
  }
}

function isoOf(at: number): string {
  return new Date(at).toISOString();
}
