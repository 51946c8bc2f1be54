import type { CircuitBreaker } from '../circuit-breaker/circuit-breaker';
import type { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import type { UnitOfWork } from '../context/unit-of-work';
import type { AdaptiveAdmission, DeadlockAdmissions } from './deadlock-admission';
import type { RetryBudget } from './retry-budget';
import type { RetryBudgets } from './retry-budgets';

/**
 * A unit of work with what runs it looked up once: its database's breaker and retry budget, its operation's
 * deadlock admission. A decorated method or `execute()` without options keeps one for every call.
 */
export interface PreparedUnit {
  readonly unit: Omit<UnitOfWork, 'manager'>;
  readonly breaker: CircuitBreaker;
  readonly budget: RetryBudget;
  readonly admission: AdaptiveAdmission | undefined;
  /** After a first attempt that succeeded: releases the admission, tells a breaker that is not closed. */
  readonly succeeded: <T>(result: T) => T;
}

/** Looks up the unit's breaker, budget and admission (each made on first use) and its success handler. */
export function prepareUnit(
  unit: Omit<UnitOfWork, 'manager'>,
  breakers: CircuitBreakerRegistry,
  budgets: RetryBudgets,
  admissions: DeadlockAdmissions,
): PreparedUnit {
  const breaker = breakers.breaker(unit.database);
  // Units of an operation that deadlocks go in through its adaptive limit (off until it deadlocks).
  const admission = admissions.get(unit.database, unit.operation);
  const succeeded = <T>(result: T): T => {
    admission?.release(false);
    if (breaker.state !== 'closed') breaker.success();
    return result;
  };
  return { unit, breaker, budget: budgets.get(unit.database), admission, succeeded };
}
