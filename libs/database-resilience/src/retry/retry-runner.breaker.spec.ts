import { ErrorCategory } from '../classification/error-category.enum';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { MemorySharedStateStore } from '../shared-state/shared-state-store';
import { CircuitOpenError } from '../circuit-breaker/circuit-open.error';
import { ConcurrencyLimitExceededError } from '../errors/concurrency-limit-exceeded.error';
import { ErrorClassifier } from '../classification/error-classifier';
import { resolveOptions } from '../options/options.schema';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import { databaseErrorMarkOf, markDatabaseError, markOutcomeUnknown } from '../errors/database-error-marks';
import { RetryRunner } from './retry-runner';
import { unitOfWork } from '../context/unit-of-work';
import { deadlock, duplicate, failing, lost, newHarness, policy, settle, unit } from './retry-runner.spec-support';

describe('RetryRunner: nesting, breakers, the limit and the marks it leaves (fake timers)', () => {
  let events: ResilienceEvent[];
  let runner: RetryRunner;
  let breakers: CircuitBreakerRegistry;
  beforeEach(() => ({ events, runner, breakers } = newHarness()));
  afterEach(() => jest.useRealTimers());

  it('inside another unit of work runs once: the outer unit retries, attempts never multiply', async () => {
    let innerCalls = 0;
    const inner = () =>
      runner.run(
        async () => {
          innerCalls++;
          throw deadlock();
        },
        unit,
        policy(),
      );
    const outer = runner.run(() => inner(), unit, policy({ maxAttempts: 3 }));
    const { error } = await settle(outer);
    expect(innerCalls).toBe(3);
    expect(error).toMatchObject({ errno: 1213 });
    expect(unitOfWork.getStore()).toBeUndefined();
  });

  it('stops retrying as soon as the breaker opens, and never retries CircuitOpenError', async () => {
    const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', fatal: true });
    const work = failing(refused, refused, refused, refused);
    const { error } = await settle(runner.run(work, unit, policy({ maxAttempts: 5 })));
    expect(work).toHaveBeenCalledTimes(2); // the second failure opened the breaker (threshold 2)
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ database: 'default' });
    // Not the 60 s recovery timeout, nor the scheduled health check (every 10 s, 2 s to answer): the first probe,
    // 1 s after the breaker opened (firstProbeAfterMs' default), less the time since.
    const retryAfterMs = (error as CircuitOpenError).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(1_000);
    expect((error as Error).stack).toBeUndefined(); // no stack trace: cheap to build
    expect(breakers.get('default').state).toBe('open');
    // The rejection is counted by the breaker, not recorded as an error: only the two real failures are.
    const recorded = events.filter((e) => e.type === 'attempt-failed');
    expect(recorded.map((e) => e.type === 'attempt-failed' && e.error.category)).toEqual(['connection', 'connection']);
    const before = breakers.get('default').snapshot().rejected;
    await settle(runner.run(work, unit, policy()));
    expect(breakers.get('default').snapshot().rejected).toBe(before + 1);
    expect(events.filter((e) => e.type === 'attempt-failed')).toHaveLength(2);
  });

  it('a borrow the concurrency limit shed is not retried, not recorded, not counted by the breaker; marked as overload', async () => {
    const work = failing(() => ConcurrencyLimitExceededError.create('default', 4));
    const { error } = await settle(runner.run(work, unit, policy({ maxAttempts: 5 })));
    expect(work).toHaveBeenCalledTimes(1);
    expect(error).toBeInstanceOf(ConcurrencyLimitExceededError);
    expect(databaseErrorMarkOf(error)).toMatchObject({
      category: ErrorCategory.OVERLOAD,
      retryable: false,
    });
    expect(events.filter((e) => e.type === 'attempt-failed')).toEqual([]);
    expect(breakers.get('default').snapshot()).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      windowFailures: 0,
    });
  });

  it.each([
    ['the first probe (firstProbeAfterMs, 1 s by default)', {}, 1_000],
    ['the recovery timeout when firstProbeAfterMs is null', { firstProbeAfterMs: null }, 60_000],
    ['the health check, when it comes before the first probe', { firstProbeAfterMs: 30_000 }, 12_000],
  ])('an open breaker asks callers to come back at %s', async (_when, circuitBreaker, retryAfterMs) => {
    const healthCheck = { enabled: retryAfterMs === 12_000 };
    const registry = new CircuitBreakerRegistry(
      resolveOptions({ circuitBreaker: { failureThreshold: 1, ...circuitBreaker }, healthCheck }),
      new ResilienceEvents(),
      new MemorySharedStateStore(),
    );
    registry.breaker('default').failure();
    expect(registry.breaker('default').rejection()?.retryAfterMs).toBe(retryAfterMs);
  });

  it('marks the error it gives up with its decision: an unknown commit, whatever the socket error inside said', async () => {
    const error = lost();
    markDatabaseError(error, new ErrorClassifier().classify(error)); // what the connection guard saw: connection
    markOutcomeUnknown(error, { id: 7, server: 'db:3306' });
    const { error: thrown } = await settle(
      runner.run(
        failing(() => error),
        unit,
        policy(),
      ),
    );
    expect(thrown).toBeInstanceOf(CommitOutcomeUnknownError);
    expect(databaseErrorMarkOf(thrown)?.category).toBe(ErrorCategory.COMMIT_OUTCOME_UNKNOWN);
  });

  it('does not count caller errors toward the breaker', async () => {
    for (let i = 0; i < 5; i++) await settle(runner.run(failing(duplicate), unit, null));
    expect(breakers.get('default').state).toBe('closed');
  });
});
