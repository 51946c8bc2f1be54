import { groupIncidents, type IncidentFilter, type IncidentGroup } from './incidents';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { AttemptFailedEvent, ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { ErrorHistory, viewOf, type ErrorRecord, type ErrorRecordView } from './error-history';
import { addCounts, emptyCounts, TimeBuckets, type Counts } from './time-buckets';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface StatisticsQuery {
  /** Only this database. Default: all. */
  database?: string;
  /** The window the totals cover, 1 to 1440 minutes; beyond an hour it is counted in whole hours. Default 60. */
  windowMinutes?: number;
}

export interface WindowTotals extends Counts {
  /** Mean over the window. */
  errorsPerMinute: number;
  /** Of the units of work that were retried, the share that succeeded in the end; null when none were. */
  recoveryRate: number | null;
}

export interface ErrorStatistics {
  generatedAt: string;
  database: string | null;
  windowMinutes: number;
  window: WindowTotals;
  byDatabase: Record<string, WindowTotals>;
  sinceStart: { since: string; errors: number; recovered: number; failed: number };
  /** Errors per minute over the last hour, and per hour over the last 24, oldest first. */
  trend: { lastHour: Array<{ at: string; errors: number }>; last24Hours: Array<{ at: string; errors: number }> };
}

/**
 * The error history and the statistics, fed by ResilienceEvents. Recording is O(1) and never throws into the
 * caller (the event bus guards it); reading costs the number of time buckets, never the history.
 */
@Injectable()
export class ErrorStatisticsService implements OnModuleDestroy {
  private readonly history: ErrorHistory;
  private readonly minutes = new TimeBuckets(MINUTE, 60);
  private readonly hours = new TimeBuckets(HOUR, 24);
  private readonly totals = new Map<string, Counts>();
  private readonly pendingUnits = new Map<number, ErrorRecord[]>();
  private readonly since = new Date();
  private readonly unsubscribe: () => void;

  constructor(events: ResilienceEvents, @Inject(RESILIENCE_OPTIONS) options: ResolvedResilienceOptions) {
    this.history = new ErrorHistory(options.history.maxEntries);
    this.unsubscribe = events.subscribe((event) => this.observe(event), { types: ['attempt-failed', 'recovered'] });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Newest first. */
  recentErrors(limit = 50, database?: string): ErrorRecordView[] {
    return this.history.recent(limit, database).map(viewOf);
  }

  /** The history's failures grouped by code, route and database (count, first and last seen), filtered. */
  incidents(filter: IncidentFilter = {}): IncidentGroup[] {
    return groupIncidents(this.history.recent(this.history.length), filter);
  }

  statistics(query: StatisticsQuery = {}): ErrorStatistics {
    const now = Date.now();
    const windowMinutes = Math.min(1440, Math.max(1, Math.floor(query.windowMinutes ?? 60)));
    const perDatabase =
      windowMinutes <= 60
        ? this.minutes.sumByDatabase(now, windowMinutes)
        : this.hours.sumByDatabase(now, Math.ceil(windowMinutes / 60));
    const byDatabase: Record<string, WindowTotals> = {};
    const window = emptyCounts();
    for (const [name, counts] of perDatabase) {
      if (query.database !== undefined && name !== query.database) continue;
      byDatabase[name] = withRates(counts, windowMinutes);
      addCounts(window, counts);
    }
    const sinceStart = emptyCounts();
    for (const [name, counts] of this.totals)
      if (query.database === undefined || name === query.database) addCounts(sinceStart, counts);
    const point = ({ start, errors }: { start: number; errors: number }) => ({
      at: new Date(start).toISOString(),
      errors,
    });
    return {
      generatedAt: new Date(now).toISOString(),
      database: query.database ?? null,
      windowMinutes,
      window: withRates(window, windowMinutes),
      byDatabase,
      sinceStart: {
        since: this.since.toISOString(),
        errors: sinceStart.errors,
        recovered: sinceStart.recovered,
        failed: sinceStart.failed,
      },
      trend: {
        lastHour: this.minutes.errorSeries(now, 60, query.database).map(point),
        last24Hours: this.hours.errorSeries(now, 24, query.database).map(point),
      },
    };
  }

  private observe(event: ResilienceEvent): void {
    if (event.type === 'attempt-failed') this.recordFailure(event);
    else if (event.type === 'recovered') this.settleUnit(event.unitId, event.database, 'recovered');
  }

  private recordFailure(event: AttemptFailedEvent): void {
    const record: ErrorRecord = {
      at: new Date(event.at),
      database: event.database,
      operation: event.operation,
      requestId: event.requestId,
      route: event.route,
      attempt: event.attempt,
      outcome: event.willRetry ? 'retrying' : 'failed',
      error: event.error,
    };
    this.history.record(record);
    for (const counts of this.countsOf(event.database, event.at)) {
      counts.errors++;
      counts.byCategory[event.error.category]++;
      counts.bySeverity[event.error.severity]++;
    }
    if (event.willRetry) {
      const pending = this.pendingUnits.get(event.unitId);
      if (pending) pending.push(record);
      else this.pendingUnits.set(event.unitId, [record]);
    } else if (event.attempt > 1) {
      this.settleUnit(event.unitId, event.database, 'failed');
    }
  }

  private settleUnit(unitId: number, database: string, outcome: 'recovered' | 'failed'): void {
    const pending = this.pendingUnits.get(unitId);
    if (!pending) return;
    this.pendingUnits.delete(unitId);
    for (const record of pending) record.outcome = outcome;
    for (const counts of this.countsOf(database, Date.now())) counts[outcome]++;
  }

  private countsOf(database: string, at: number): Counts[] {
    let total = this.totals.get(database);
    if (!total) this.totals.set(database, (total = emptyCounts()));
    return [this.minutes.countsAt(at, database), this.hours.countsAt(at, database), total];
  }
}

function withRates(counts: Counts, windowMinutes: number): WindowTotals {
  const retried = counts.recovered + counts.failed;
  return {
    ...counts,
    errorsPerMinute: Math.round((counts.errors / windowMinutes) * 100) / 100,
    recoveryRate: retried === 0 ? null : Math.round((counts.recovered / retried) * 1000) / 1000,
  };
}
