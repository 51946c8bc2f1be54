import { ErrorCategory } from '../classification/error-category.enum';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { ErrorClassifier } from '../classification/error-classifier';
import { resolveOptions } from '../options/options.schema';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import { databaseErrorMarkOf, markOutcomeUnknown } from '../errors/database-error-marks';
import { CommitNotAppliedError } from './commit-not-applied.error';
import { resilienceDetailsOf } from './resilience-error-details';
import { RetryBudgets } from './retry-budgets';
import { RetryRunner } from './retry-runner';
import { RetryBudgetExhaustedError } from '../errors/retry-budget-exhausted.error';
import { RequestCancelledError } from '../errors/request-cancelled.error';
import {
  deadlock,
  duplicate,
  failing,
  lockWait,
  lost,
  newHarness,
  policy,
  settle,
  unit,
  noAdmission,
} from './retry-runner.spec-support';

describe('RetryRunner: what is retried, and when (fake timers)', () => {
  let events: ResilienceEvent[];
  let runner: RetryRunner;
  let breakers: CircuitBreakerRegistry;
  beforeEach(() => ({ events, runner, breakers } = newHarness()));
  afterEach(() => jest.useRealTimers());

  it('re-runs the whole unit after a deadlock, waiting the backoff delays', async () => {
    const work = failing(deadlock, deadlock);
    const { value, elapsed } = await settle(runner.run(work, unit, policy()));
    expect(value).toBe('ok');
    expect(work).toHaveBeenCalledTimes(3);
    expect(elapsed).toBe(100 + 200);
    expect(events.map((e) => e.type)).toEqual(['attempt-failed', 'attempt-failed', 'recovered']);
  });

  it('re-runs the whole unit after a bare SQLSTATE 40001 (a driver that gives no errno)', async () => {
    const serialization = () => Object.assign(new Error('could not serialize access'), { sqlState: '40001' });
    const work = failing(serialization);
    const { value } = await settle(runner.run(work, unit, policy()));
    expect(value).toBe('ok');
    expect(work).toHaveBeenCalledTimes(2);
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

  it("a cancelled statement (the caller went away) is not retried, not recorded, not counted; the caller gets the module's error, not TypeORM's around it", async () => {
    const cancelled = new RequestCancelledError('default');
    const wrapped = Object.assign(new Error('query failed'), { driverError: cancelled });
    const work = failing(() => wrapped);
    const { error } = await settle(runner.run(work, unit, policy()));
    expect(work).toHaveBeenCalledTimes(1);
    expect(error).toBe(cancelled);
    expect(events.map((e) => e.type)).toEqual(['request-cancelled']);
    expect(breakers.get('default')!.state).toBe('closed');

    // A signal aborted before the unit: it does not run.
    const controller = new AbortController();
    controller.abort();
    const never = jest.fn();
    const refused = await settle(runner.run(never, { ...unit, signal: controller.signal }, policy()));
    expect(never).not.toHaveBeenCalled();
    expect(refused.error).toBeInstanceOf(RequestCancelledError);
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
      markOutcomeUnknown(error, { id: 42, server: 'db:3306' });
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
      markOutcomeUnknown(error, { id: 42, server: 'db:3306' });
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
});
