import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ErrorCategory } from '../classification/error-category.enum';
import { DeadlockAnalyticsService } from '../deadlock/deadlock-analytics.service';
import type { AttemptFailedEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import { ResilienceLogger } from '../events/resilience-logger';
import { instanceIdOf } from '../options/instance-id';
import { storeSettingsOf, type ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import {
  FLEET_STREAM_LENGTH,
  RedisFleetStore,
  type FleetErrorRecord,
  type FleetHotSpot,
} from '../shared-state/fleet-store';
import { ErrorStatisticsService } from './error-statistics.service';
import { SlowQueryLog } from './slow-query-log.service';
import {
  emptyStatistics,
  summarize,
  TOP,
  type FleetFilter,
  type FleetHotSpots,
  type FleetScope,
  type FleetStatistics,
} from './fleet-summaries';

export type { FleetFilter, FleetHotSpots, FleetScope, FleetStatistics };

const FLUSH_MS = 250;
/** Distinct statements a batch counts, at most; beyond, they stay in the local view only. */
const MAX_HOT_SPOTS = 1000;
const NO_STORE = "no Redis store (sharedState.store { type: 'redis' })";
const NO_REDIS = 'Redis does not answer';
/** Records waiting for the next flush, at most (20 000 errors a second): beyond, they stay in the local view only. */
const MAX_BATCH = 5000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The fleet's errors as one: every instance sharing the Redis store (`sharedState.store`) writes what it
 * records, in batches every 250 ms off the request path (recording only keeps the event), and reads everyone's.
 * When Redis does not answer, each instance says so once and answers with its own view (`scope: 'local'`).
 */
@Injectable()
export class FleetView implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  readonly instance: string;
  private readonly store?: RedisFleetStore;
  private batch: AttemptFailedEvent[] = [];
  /** Slow statements and deadlock victims since the last flush, counted by kind, database and fingerprint. */
  private hotSpots = new Map<string, FleetHotSpot>();
  private timer?: NodeJS.Timeout;
  private unsubscribe: () => void = () => undefined;
  private reachable = true;
  private flushing?: Promise<void>;
  /** Errors that did not fit in a batch (beyond 20 000 a second): in this instance's view, not the fleet's. */
  dropped = 0;

  constructor(
    private readonly events: ResilienceEvents,
    private readonly local: ErrorStatisticsService,
    private readonly localSlowQueries: SlowQueryLog,
    private readonly localDeadlocks: DeadlockAnalyticsService,
    @Inject(RESILIENCE_OPTIONS) options: ResolvedResilienceOptions,
  ) {
    this.instance = instanceIdOf(options);
    const settings = storeSettingsOf(options);
    if (settings?.type === 'redis') {
      this.store = new RedisFleetStore(settings.url, settings.keyPrefix, settings.timeoutMs);
    } else if (settings === undefined) {
      // A store of the app's own shares breaker states and sessions; the fleet view needs Redis streams.
      this.logger.log(
        "The fleet view is this instance's own: it needs sharedState.store { type: 'redis' }, not a store of the app's",
        { event: 'fleet-view-local' },
      );
    }
  }

  /** Redis commands this instance sent for the fleet view (the benchmark reads it). */
  get commands(): number {
    return this.store?.commands ?? 0;
  }

  onModuleInit(): void {
    if (!this.store) return;
    this.unsubscribe = this.events.subscribe(
      (event) => {
        if (event.type === 'slow-query') this.countHotSpot('slow', event.database, event.fingerprint, event.durationMs);
        if (event.type !== 'attempt-failed') return;
        if (event.error.category === ErrorCategory.DEADLOCK) {
          this.countHotSpot('deadlock', event.database, event.error.sql ?? '(statement unknown)', 0);
        }
        if (this.batch.length < MAX_BATCH) this.batch.push(event);
        else this.dropped++;
      },
      { types: ['slow-query', 'attempt-failed'] },
    );
    this.timer = setInterval(() => void this.flush(), FLUSH_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.timer);
    await this.flush();
    await this.store?.close();
  }

  /** Sends what was recorded since the last flush (the timer does it every 250 ms). */
  async flush(): Promise<void> {
    if (!this.store) return;
    await this.flushing;
    if (this.batch.length === 0 && this.hotSpots.size === 0) return;
    const events = this.batch;
    const hotSpots = [...this.hotSpots.values()];
    this.batch = [];
    this.hotSpots = new Map();
    this.flushing = this.store
      .append(
        events.map((e) => this.toRecord(e)),
        hotSpots,
      )
      .then((taken) => this.answered(taken));
    await this.flushing;
  }

  private countHotSpot(kind: FleetHotSpot['kind'], database: string, sql: string, durationMs: number): void {
    const fingerprint = sql.replace(/[\t\n\r]+/g, ' ').slice(0, 1000);
    const key = `${kind}\t${database}\t${fingerprint}`;
    let spot = this.hotSpots.get(key);
    if (!spot) {
      if (this.hotSpots.size >= MAX_HOT_SPOTS) return void this.dropped++;
      spot = { kind, instance: this.instance, database, fingerprint, count: 0, totalMs: 0 };
      this.hotSpots.set(key, spot);
    }
    spot.count++;
    spot.totalMs += durationMs;
  }

  /** Slow statements and deadlock victims of every instance over the last `hours` (the current one included). */
  async hotSpotsOf(hours: number, filter: FleetFilter = {}): Promise<FleetHotSpots> {
    if (!this.store) return this.localHotSpots(hours, filter, NO_STORE);
    const now = Date.now();
    const current = now - (now % HOUR);
    const spots = await this.store.hotSpots(Array.from({ length: hours }, (_, i) => current - i * HOUR));
    this.answered(spots !== undefined);
    if (spots === undefined) return this.localHotSpots(hours, filter, NO_REDIS);
    const kept = spots.filter(
      (s) => (filter.database ?? s.database) === s.database && (filter.instance ?? s.instance) === s.instance,
    );
    return { scope: 'fleet', instance: this.instance, hours, ...summarize(kept) };
  }

  /** This instance's view: its slow-query log and deadlock analytics (since it started). */
  private async localHotSpots(hours: number, filter: FleetFilter, reason: string): Promise<FleetHotSpots> {
    if (filter.instance !== undefined && filter.instance !== this.instance) {
      return { ...this.scope(reason), hours, ...summarize([]) };
    }
    const spots: FleetHotSpot[] = this.localSlowQueries
      .top(TOP)
      .filter((q) => (filter.database ?? q.database) === q.database)
      .map((q) => ({ kind: 'slow', instance: this.instance, ...q, totalMs: q.meanMs * q.count }));
    for (const report of await this.localDeadlocks.report(filter.database)) {
      for (const statement of report.topStatements) {
        spots.push({
          kind: 'deadlock',
          instance: this.instance,
          database: report.database,
          fingerprint: statement.fingerprint,
          count: statement.deadlocks,
          totalMs: 0,
        });
      }
    }
    return { ...this.scope(reason), hours, ...summarize(spots) };
  }

  async recentErrors(limit: number, filter: FleetFilter = {}): Promise<FleetScope & { errors: FleetErrorRecord[] }> {
    if (!this.store) return { ...this.scope(NO_STORE), errors: this.localErrors(limit, filter) };
    const filtered = filter.database !== undefined || filter.instance !== undefined;
    const records = await this.store.recent(filtered ? FLEET_STREAM_LENGTH : limit);
    this.answered(records !== undefined);
    if (records === undefined) return { ...this.scope(NO_REDIS), errors: this.localErrors(limit, filter) };
    const errors = records
      .filter((r) => (filter.database ?? r.database) === r.database && (filter.instance ?? r.instance) === r.instance)
      .slice(0, limit);
    return { scope: 'fleet', instance: this.instance, errors };
  }

  async statistics(windowMinutes: number, filter: FleetFilter = {}): Promise<FleetStatistics> {
    if (!this.store) return this.localStatistics(windowMinutes, filter, NO_STORE);
    const now = Date.now();
    const byMinute = windowMinutes <= 60;
    const unit = byMinute ? MINUTE : HOUR;
    const current = now - (now % unit);
    const starts = Array.from(
      { length: byMinute ? windowMinutes : Math.ceil(windowMinutes / 60) },
      (_, i) => current - i * unit,
    );
    const counts = await this.store.counts(starts, byMinute ? 'minute' : 'hour');
    this.answered(counts !== undefined);
    if (counts === undefined) return this.localStatistics(windowMinutes, filter, NO_REDIS);
    const result = emptyStatistics(windowMinutes, { scope: 'fleet', instance: this.instance });
    for (const c of counts) {
      if ((filter.database ?? c.database) !== c.database || (filter.instance ?? c.instance) !== c.instance) continue;
      result.errors += c.errors;
      result.byCategory[c.category] = (result.byCategory[c.category] ?? 0) + c.errors;
      result.bySeverity[c.severity] = (result.bySeverity[c.severity] ?? 0) + c.errors;
      result.byDatabase[c.database] = (result.byDatabase[c.database] ?? 0) + c.errors;
      result.byInstance[c.instance] = (result.byInstance[c.instance] ?? 0) + c.errors;
    }
    return result;
  }

  private localErrors(limit: number, filter: FleetFilter): FleetErrorRecord[] {
    if (filter.instance !== undefined && filter.instance !== this.instance) return [];
    return this.local.recentErrors(limit, filter.database).map((view) => ({
      at: view.at,
      instance: this.instance,
      database: view.database,
      category: view.category,
      severity: view.severity,
      code: String(view.code ?? view.errno ?? ''),
      ...(view.route ? { route: view.route } : {}),
      ...(view.operation ? { operation: view.operation } : {}),
      message: view.message,
    }));
  }

  private localStatistics(windowMinutes: number, filter: FleetFilter, reason: string): FleetStatistics {
    const result = emptyStatistics(windowMinutes, this.scope(reason));
    if (filter.instance !== undefined && filter.instance !== this.instance) return result;
    const { window, byDatabase } = this.local.statistics({ windowMinutes, database: filter.database });
    Object.assign(result, {
      errors: window.errors,
      byCategory: { ...window.byCategory },
      bySeverity: { ...window.bySeverity },
    });
    for (const [database, totals] of Object.entries(byDatabase)) result.byDatabase[database] = totals.errors;
    result.byInstance[this.instance] = window.errors;
    return result;
  }

  private toRecord(event: AttemptFailedEvent): FleetErrorRecord {
    const { error } = event;
    return {
      at: new Date(event.at).toISOString(),
      instance: this.instance,
      database: event.database,
      category: error.category,
      severity: error.severity,
      code: String(error.code ?? error.errno ?? error.name).slice(0, 64),
      ...(event.route ? { route: event.route.slice(0, 300) } : {}),
      ...(event.operation ? { operation: event.operation.slice(0, 300) } : {}),
      message: error.message.slice(0, 2000),
    };
  }

  private scope(reason: string): FleetScope {
    return { scope: 'local', reason, instance: this.instance };
  }

  /** Says once when Redis stops answering, and once when it is back. */
  private answered(ok: boolean): void {
    if (ok === this.reachable) return;
    this.reachable = ok;
    if (ok) this.logger.log('Redis is back: the fleet view is shared again', { event: 'fleet-view-back' });
    else
      this.logger.warn(
        "Redis does not answer: the dashboard and admin API show this instance's view until it is back",
        {
          event: 'fleet-view-unavailable',
        },
      );
  }
}
