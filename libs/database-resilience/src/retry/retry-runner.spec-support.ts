import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { MemorySharedStateStore } from '../shared-state/shared-state-store';
import { ErrorClassifier } from '../classification/error-classifier';
import { resolveOptions } from '../options/options.schema';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { RetryPolicy } from './retry-options';
import { RetryBudgets } from './retry-budgets';
import { RetryRunner } from './retry-runner';
import { DeadlockAdmissions } from './deadlock-admission';
export const noAdmission = new DeadlockAdmissions({ ...resolveOptions({}).deadlockAdmission, enabled: false });

export const deadlock = () =>
  Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK', sqlState: '40001' });
export const duplicate = () =>
  Object.assign(new Error('Duplicate entry'), { errno: 1062, code: 'ER_DUP_ENTRY', sqlState: '23000' });
export const lockWait = () =>
  Object.assign(new Error('Lock wait timeout exceeded'), {
    errno: 1205,
    code: 'ER_LOCK_WAIT_TIMEOUT',
    sqlState: 'HY000',
  });
export const lost = () =>
  Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });

export const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  jitter: 'none',
  budgetMs: 10_000,
  idempotent: false,
  ...overrides,
});
export const unit = { database: 'default', operation: 'op' };

/** Work that fails with the given errors in turn, then returns 'ok'. */
export function failing(...errors: Array<() => unknown>) {
  const work = jest.fn(async () => {
    const next = errors[work.mock.calls.length - 1];
    if (next) throw next();
    return 'ok';
  });
  return work;
}

/** A runner on fake timers, with its events and breakers: made anew for each test. */
export function newHarness(admissions: DeadlockAdmissions = noAdmission) {
  jest.useFakeTimers();
  const bus = new ResilienceEvents();
  const events: ResilienceEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const breakers = new CircuitBreakerRegistry(
    resolveOptions({ circuitBreaker: { failureThreshold: 2 } }),
    bus,
    new MemorySharedStateStore(),
  );
  const runner = new RetryRunner(
    new ErrorClassifier(),
    bus,
    breakers,
    new RetryBudgets(resolveOptions({})),
    admissions,
    () => 0.5,
  );
  return { events, runner, breakers };
}

/** Runs to completion, advancing the fake clock through every backoff delay. */
export async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; elapsed: number }> {
  const started = Date.now();
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await jest.runAllTimersAsync();
  return { ...(await outcome), elapsed: Date.now() - started };
}
