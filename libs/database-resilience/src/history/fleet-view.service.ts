import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ErrorCategory } from '../classification/error-category.enum';
import { Severity } from '../classification/severity.enum';
import type { AttemptFailedEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import { ResilienceLogger } from '../events/resilience-logger';
import { instanceIdOf } from '../options/instance-id';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { FLEET_STREAM_LENGTH, RedisFleetStore, type FleetErrorRecord } from '../shared-state/fleet-store';
import { ErrorStatisticsService } from './error-statistics.service';

/** Which view an answer holds: every instance's (through Redis), or only this instance's, and why. */
export interface FleetScope {
  scope: 'fleet' | 'local';
  /** Why the answer is local: no shared store configured, or Redis not answering. */
  reason?: string;
  /** The instance that answered. */
  instance: string;
}

export interface FleetFilter {
  database?: string;
  instance?: string;
}

export interface FleetStatistics extends FleetScope {
  windowMinutes: number;
  errors: number;
  byCategory: Record<string, number>;
  bySeverity: Record<string, number>;
  byDatabase: Record<string, number>;
  /** Per instance: errors in the window. */
  byInstance: Record<string, number>;
}

const FLUSH_MS = 250;
const NO_STORE = 'no shared store (circuitBreaker.store)';
const NO_REDIS = 'Redis does not answer';
/** Records waiting for the next flush, at most (20 000 errors a second): beyond, they stay in the local view only. */
const MAX_BATCH = 5000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The fleet's errors as one: every instance sharing the Redis store (`circuitBreaker.store`) writes what it
 * records, in batches every 250 ms off the request path (recording only keeps the event), and reads everyone's.
 * When Redis does not answer, each instance says so once and answers with its own view (`scope: 'local'`).
 */
@Injectable()
export class FleetView implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  readonly instance: string;
  private readonly store?: RedisFleetStore;
  private batch: AttemptFailedEvent[] = [];
  private timer?: NodeJS.Timeout;
  private unsubscribe: () => void = () => undefined;
  private reachable = true;
  private flushing?: Promise<void>;
  /** Errors that did not fit in a batch (beyond 20 000 a second): in this instance's view, not the fleet's. */
  dropped = 0;

  constructor(
    private readonly events: ResilienceEvents,
    private readonly local: ErrorStatisticsService,
    @Inject(RESILIENCE_OPTIONS) options: ResolvedResilienceOptions,
  ) {
    this.instance = instanceIdOf(options);
    const { store } = options.circuitBreaker;
    if (store.type === 'redis') this.store = new RedisFleetStore(store.url, store.keyPrefix, store.timeoutMs);
  }

  /** Redis commands this instance sent for the fleet view (the benchmark reads it). */
  get commands(): number {
    return this.store?.commands ?? 0;
  }

  onModuleInit(): void {
    if (!this.store) return;
    this.unsubscribe = this.events.subscribe((event) => {
      if (event.type !== 'attempt-failed') return;
      if (this.batch.length < MAX_BATCH) this.batch.push(event);
      else this.dropped++;
    });
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
    if (this.batch.length === 0) return;
    const events = this.batch;
    this.batch = [];
    this.flushing = this.store.append(events.map((e) => this.toRecord(e))).then((taken) => this.answered(taken));
    await this.flushing;
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

function emptyStatistics(windowMinutes: number, scope: FleetScope): FleetStatistics {
  const zero = (values: object) => Object.fromEntries(Object.values(values).map((v: string) => [v, 0]));
  return {
    ...scope,
    windowMinutes,
    errors: 0,
    byCategory: zero(ErrorCategory),
    bySeverity: zero(Severity),
    byDatabase: {},
    byInstance: {},
  };
}
