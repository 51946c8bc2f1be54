import { ErrorClassifier } from '../classification/error-classifier';
import { ResilienceEvents } from '../events/resilience-events';
import { resolveOptions } from '../options/options.schema';
import { ErrorStatisticsService } from './error-statistics.service';

const classifier = new ErrorClassifier();
const deadlock = classifier.classify({ errno: 1213, code: 'ER_LOCK_DEADLOCK', message: "Deadlock on 'secret'" });
const refused = classifier.classify({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });

describe('ErrorStatisticsService (fake clock)', () => {
  let events: ResilienceEvents;
  let stats: ErrorStatisticsService;
  let unit = 0;

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2026-11-28T10:00:30Z') });
    events = new ResilienceEvents();
    stats = new ErrorStatisticsService(events, resolveOptions({ history: { maxEntries: 3 } }));
  });
  afterEach(() => jest.useRealTimers());

  function fail(database: string, error = deadlock, willRetry = false, attempt = 1, unitId = ++unit) {
    events.emit({
      type: 'attempt-failed',
      at: Date.now(),
      unitId,
      database,
      operation: 'op',
      requestId: 'req-1',
      attempt,
      error,
      willRetry,
    });
    return unitId;
  }

  it('keeps the last entries only, newest first, with the message redacted', () => {
    fail('a');
    fail('b');
    fail('a', refused);
    fail('a');
    const recent = stats.recentErrors(10);
    expect(recent).toHaveLength(3);
    expect(recent.map((r) => r.database)).toEqual(['a', 'a', 'b']);
    expect(recent[0]).toMatchObject({
      category: 'deadlock',
      requestId: 'req-1',
      outcome: 'failed',
      message: 'Deadlock on ?',
    });
    expect(stats.recentErrors(10, 'b')).toHaveLength(1);
  });

  it('totals by database, category and severity, and filters by database', () => {
    fail('a');
    fail('a', refused);
    fail('b');
    const all = stats.statistics();
    expect(all.window.errors).toBe(3);
    expect(all.byDatabase.a.errors).toBe(2);
    expect(all.window.byCategory).toMatchObject({ deadlock: 2, connection: 1 });
    expect(all.window.bySeverity).toMatchObject({ high: 2, critical: 1 });
    expect(stats.statistics({ database: 'b' }).window.errors).toBe(1);
  });

  it('marks retried units recovered or failed, and computes the recovery rate', () => {
    const recovering = fail('a', deadlock, true, 1);
    events.emit({ type: 'recovered', at: Date.now(), unitId: recovering, database: 'a', operation: 'op', attempts: 2 });
    const giving = fail('a', deadlock, true, 1);
    fail('a', deadlock, false, 2, giving);
    fail('a', deadlock, false, 1); // tried once (not retryable): not a recovery attempt
    expect(stats.statistics().window).toMatchObject({ recovered: 1, failed: 1, recoveryRate: 0.5 });
    expect(stats.recentErrors(10).map((r) => r.outcome)).toEqual(
      ['failed', 'failed', 'failed', 'recovered'].slice(0, 3),
    );
  });

  it('keeps a per-minute trend for the last hour and a per-hour trend for 24 hours', () => {
    fail('a');
    jest.advanceTimersByTime(60_000);
    fail('a');
    fail('a');
    jest.advanceTimersByTime(2 * 3_600_000);
    fail('a');
    const { trend, window } = stats.statistics();
    expect(trend.lastHour).toHaveLength(60);
    expect(trend.lastHour.at(-1)?.errors).toBe(1);
    expect(trend.last24Hours).toHaveLength(24);
    expect(trend.last24Hours.slice(-3).map((p) => p.errors)).toEqual([3, 0, 1]);
    expect(window.errors).toBe(1); // the last hour only
    expect(stats.statistics({ windowMinutes: 1440 }).window.errors).toBe(4);
    expect(stats.statistics().sinceStart.errors).toBe(4);
  });

  it('forgets buckets older than their ring', () => {
    fail('a');
    jest.advanceTimersByTime(25 * 3_600_000);
    expect(stats.statistics({ windowMinutes: 1440 }).window.errors).toBe(0);
  });
});
