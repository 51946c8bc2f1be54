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
import { CommitNotAppliedError } from './commit-not-applied.error';
import { resilienceDetailsOf } from './resilience-error-details';
import type { RetryPolicy } from './retry-options';
import { RetryBudgets } from './retry-budgets';
import { RetryRunner } from './retry-runner';
import { DeadlockAdmissions } from './deadlock-admission';

const noAdmission = new DeadlockAdmissions({ ...resolveOptions({}).deadlockAdmission, enabled: false });
import { RetryBudgetExhaustedError } from '../errors/retry-budget-exhausted.error';
import { unitOfWork } from '../context/unit-of-work';

const deadlock = () =>
  Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK', sqlState: '40001' });
const duplicate = () =>
  Object.assign(new Error('Duplicate entry'), { errno: 1062, code: 'ER_DUP_ENTRY', sqlState: '23000' });
const lockWait = () =>
  Object.assign(new Error('Lock wait timeout exceeded'), {
    errno: 1205,
    code: 'ER_LOCK_WAIT_TIMEOUT',
    sqlState: 'HY000',
  });
const lost = () => Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  jitter: 'none',
  budgetMs: 10_000,
  idempotent: false,
  ...overrides,
});
const unit = { database: 'default', operation: 'op' };

/** Work that fails with the given errors in turn, then returns 'ok'. */
function failing(...errors: Array<() => unknown>) {
  const work = jest.fn(async () => {
    const next = errors[work.mock.calls.length - 1];
    if (next) throw next();
    return 'ok';
  });
  return work;
}

describe('RetryRunner (fake timers)', () => {
  let events: ResilienceEvent[];
  let runner: RetryRunner;
  let breakers: CircuitBreakerRegistry;

  beforeEach(() => {
    jest.useFakeTimers();
    const bus = new ResilienceEvents();
    events = [];
    bus.subscribe((e) => events.push(e));
    breakers = new CircuitBreakerRegistry(
      resolveOptions({ circuitBreaker: { failureThreshold: 2 } }),
      bus,
      new MemorySharedStateStore(),
    );
    runner = new RetryRunner(
      new ErrorClassifier(),
      bus,
      breakers,
      new RetryBudgets(resolveOptions({})),
      noAdmission,
      () => 0.5,
    );
  });
  afterEach(() => jest.useRealTimers());

  /** Runs to completion, advancing the fake clock through every backoff delay. */
  async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; elapsed: number }> {
    const started = Date.now();
    const outcome = promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await jest.runAllTimersAsync();
    return { ...(await outcome), elapsed: Date.now() - started };
  }

  it('re-runs the whole unit after a deadlock, waiting the backoff delays', async () => {
    const work = failing(deadlock, deadlock);
    const { value, elapsed } = await settle(runner.run(work, unit, policy()));
    expect(value).toBe('ok');
    expect(work).toHaveBeenCalledTimes(3);
    expect(elapsed).toBe(100 + 200);
    expect(events.map((e) => e.type)).toEqual(['attempt-failed', 'attempt-failed', 'recovered']);
  });

  it('a spent retry budget fails the unit with RetryBudgetExhaustedError instead of retrying; first attempts still run', async () => {
    const spent = new RetryBudgets(resolveOptions({ retryBudget: { ratio: 0.5, minRetriesPerSecond: 0 } }));
    const bus = new ResilienceEvents();
    bus.subscribe((e) => events.push(e));
    const budgeted = new RetryRunner(new ErrorClassifier(), bus, breakers, spent, noAdmission, () => 0.5);
    // Two units of work: one retry allowed (0.5 × 2 first attempts), taken by the first.
    const first = failing(lockWait);
    const second = failing(lockWait);
    const firstRun = settle(budgeted.run(first, unit, policy()));
    const { error } = await settle(budgeted.run(second, unit, policy()));
    expect((await firstRun).value).toBe('ok');
    expect(first).toHaveBeenCalledTimes(2);
    expect(second).toHaveBeenCalledTimes(1);
    expect(error).toBeInstanceOf(RetryBudgetExhaustedError);
    expect((error as Error).cause).toMatchObject({ errno: 1205 });
    expect(spent.get('default').refused).toBe(1);
    const gaveUp = events.filter((e) => e.type === 'attempt-failed' && !e.willRetry);
    // Recorded as the lock wait it was; the caller's error is marked with the budget's own classification.
    expect(gaveUp).toEqual([
      expect.objectContaining({ error: expect.objectContaining({ code: 'ER_LOCK_WAIT_TIMEOUT' }) }),
    ]);
    expect(databaseErrorMarkOf(error)).toMatchObject({ code: 'RETRY_BUDGET_EXHAUSTED', category: 'overload' });
    // The budget never blocks a first attempt.
    expect((await settle(budgeted.run(failing(), unit, policy()))).value).toBe('ok');
  });

  it('retries after a deadlock are not drawn from the retry budget', async () => {
    const spent = new RetryBudgets(resolveOptions({ retryBudget: { ratio: 0, minRetriesPerSecond: 0 } }));
    const budgeted = new RetryRunner(
      new ErrorClassifier(),
      new ResilienceEvents(),
      breakers,
      spent,
      noAdmission,
      () => 0.5,
    );
    const work = failing(deadlock, deadlock);
    expect((await settle(budgeted.run(work, unit, policy()))).value).toBe('ok');
    expect(work).toHaveBeenCalledTimes(3);
    expect((await settle(budgeted.run(failing(lockWait), unit, policy()))).error).toBeInstanceOf(
      RetryBudgetExhaustedError,
    );
  });

  it('stops at maxAttempts and hands back the original error, enriched', async () => {
    const work = failing(deadlock, deadlock, deadlock, deadlock);
    const { error } = await settle(runner.run(work, unit, policy({ maxAttempts: 3 })));
    expect(work).toHaveBeenCalledTimes(3);
    expect(error).toMatchObject({ errno: 1213 });
    expect(resilienceDetailsOf(error)).toMatchObject({
      attempts: 3,
      operation: 'op',
      classified: { category: 'deadlock' },
    });
    expect(Object.keys(error as object)).not.toContain('resilience'); // never serialised by accident
  });

  it('respects the time budget: no retry whose delay would overrun it', async () => {
    const work = failing(deadlock, deadlock, deadlock);
    const { error, elapsed } = await settle(runner.run(work, unit, policy({ maxAttempts: 10, budgetMs: 250 })));
    expect(work).toHaveBeenCalledTimes(2); // 100 ms fits, then 100 + 200 > 250
    expect(elapsed).toBe(100);
    expect(error).toMatchObject({ errno: 1213 });
  });

  it("respects the caller's deadline", async () => {
    const work = failing(deadlock, deadlock, deadlock);
    const deadline = { at: Date.now() + 150, ms: 150 };
    const { error } = await settle(runner.run(work, { ...unit, deadline }, policy({ maxAttempts: 10 })));
    expect(work).toHaveBeenCalledTimes(2);
    expect(error).toMatchObject({ errno: 1213 });
  });

  it('tries caller errors once', async () => {
    const work = failing(duplicate);
    const { error } = await settle(runner.run(work, unit, policy()));
    expect(work).toHaveBeenCalledTimes(1);
    expect(error).toMatchObject({ errno: 1062 });
  });

  it('retries only the categories in retryOn when given', async () => {
    const work = failing(deadlock);
    await settle(runner.run(work, unit, policy({ retryOn: [ErrorCategory.LOCK_TIMEOUT] })));
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('runs once without a policy', async () => {
    const work = failing(deadlock);
    await settle(runner.run(work, unit, null));
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('turns a failure whose commit outcome is unknown into CommitOutcomeUnknownError, not retried', async () => {
    const work = failing(() => {
      const error = lost();
      markOutcomeUnknown(error, 42);
      return error;
    });
    const { error } = await settle(runner.run(work, unit, policy(), 'key-1'));
    expect(work).toHaveBeenCalledTimes(1);
    expect(error).toBeInstanceOf(CommitOutcomeUnknownError);
    expect(error).toMatchObject({ sessionId: 42, idempotencyKey: 'key-1', database: 'default', operation: 'op' });
    expect(events[0]).toMatchObject({ type: 'attempt-failed', error: { category: 'commit_outcome_unknown' } });
  });

  it('retries an unknown outcome when the unit is idempotent', async () => {
    const work = failing(() => {
      const error = lost();
      markOutcomeUnknown(error, 42);
      return error;
    });
    const { value } = await settle(runner.run(work, unit, policy({ idempotent: true })));
    expect(value).toBe('ok');
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('retries a commit found not applied; once retries end, the error is what interrupted it', async () => {
    const cause = lost();
    const work = failing(
      () => new CommitNotAppliedError(cause),
      () => new CommitNotAppliedError(cause),
    );
    const { error } = await settle(runner.run(work, unit, policy({ maxAttempts: 2 })));
    expect(work).toHaveBeenCalledTimes(2);
    expect(error).toBe(cause);
  });

  it('calls onRetry before each retry, and ignores a hook that throws', async () => {
    const onRetry = jest.fn(() => {
      throw new Error('hook');
    });
    const { value } = await settle(runner.run(failing(deadlock), unit, policy({ onRetry })));
    expect(value).toBe('ok');
    expect(onRetry).toHaveBeenCalledWith(
      expect.objectContaining({ attempt: 1, delayMs: 100, error: expect.objectContaining({ category: 'deadlock' }) }),
    );
  });

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
    // Not the 60 s recovery timeout: the scheduled health check (every 10 s, 2 s to answer) closes it sooner.
    expect((error as CircuitOpenError).retryAfterMs).toBe(12_000);
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

  it('an open breaker of a DataSource without the health check asks for the recovery timeout', async () => {
    const registry = new CircuitBreakerRegistry(
      resolveOptions({ circuitBreaker: { failureThreshold: 1 }, healthCheck: { enabled: false } }),
      new ResilienceEvents(),
      new MemorySharedStateStore(),
    );
    registry.breaker('default').failure();
    expect(registry.breaker('default').rejection()?.retryAfterMs).toBe(60_000);
  });

  it('marks the error it gives up with its decision: an unknown commit, whatever the socket error inside said', async () => {
    const error = lost();
    markDatabaseError(error, new ErrorClassifier().classify(error)); // what the connection guard saw: connection
    markOutcomeUnknown(error, 7);
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
