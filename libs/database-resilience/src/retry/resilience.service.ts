import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { ErrorClassifier } from '../classification/error-classifier';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { validateIdempotencyKey } from '../options/idempotency-key';
import type { ExecuteOptions, GuardOptions, RetryPolicy, TransactionOptions } from './retry-options';
import { RetryPolicies } from './retry-policy';
import { RetryBudgets } from './retry-budgets';
import { DeadlockAdmissions } from './deadlock-admission';
import { RetryRunner } from './retry-runner';
import type { PreparedUnit } from './prepared-unit';
import { runTransactionAttempt } from './transaction-attempt';
import { unitOfWork, type UnitOfWork } from '../context/unit-of-work';
import { DataSourceRegistry } from '../engines/data-source-registry';

/**
 * Guards database work that is not a decorated method: `execute()` for any function, `transaction()` for a
 * TypeORM transaction that is re-run whole on a fresh connection after a deadlock, a lock wait timeout or a
 * connection lost before COMMIT.
 */
/** The key of ResilienceService's method for the @Retryable explorer. */
export const PREPARE_GUARD = Symbol('database-resilience.prepareGuard');

@Injectable()
export class ResilienceService {
  private readonly runner: RetryRunner;
  private readonly policies: RetryPolicies;
  /** The unit of a call that names nothing (the common `execute(fn, { retry: true })`): made once. */
  private defaultUnit?: PreparedUnit;

  constructor(
    classifier: ErrorClassifier,
    private readonly events: ResilienceEvents,
    private readonly dataSources: DataSourceRegistry,
    breakers: CircuitBreakerRegistry,
    budgets: RetryBudgets,
    admissions: DeadlockAdmissions,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {
    this.runner = new RetryRunner(classifier, events, breakers, budgets, admissions);
    this.policies = new RetryPolicies(options.retry);
  }

  /** Runs `fn` guarded: classified and recorded on failure; retried only if `retry` is given. */
  execute<T>(fn: () => Promise<T> | T, options: ExecuteOptions = NO_OPTIONS): Promise<T> {
    const policy = this.policies.of(options.retry, false, 'execute()');
    // The runner awaits what `fn` returns and catches what it throws: no wrapper promise on every call.
    return this.run(fn as () => Promise<T>, options, policy);
  }

  /**
   * Runs `callback` in a transaction. After a failure that is safe to retry the whole callback runs again on a
   * fresh connection; never a statement inside the open transaction. Nested in another transaction of this
   * service, it joins that one.
   */
  transaction<T>(callback: (manager: EntityManager) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const outer = unitOfWork.getStore();
    if (outer?.manager) return callback(outer.manager);
    if (options.idempotencyKey !== undefined) validateIdempotencyKey(options.idempotencyKey);
    const policy = this.policies.of(options.retry, true, 'transaction()');
    const database = options.database ?? this.dataSources.defaultName;
    let found: ReturnType<DataSourceRegistry['get']>;
    try {
      found = this.dataSources.get(database);
    } catch (error) {
      return Promise.reject(error); // a promise-returning method rejects, it does not throw
    }
    const { dataSource, guard } = found;
    return this.run(
      () => runTransactionAttempt(dataSource, database, callback, options, guard.markers, this.events),
      options,
      policy,
      options.idempotencyKey,
    );
  }

  /** The engine behind `execute()` and `transaction()`. */
  private run<T>(
    work: () => Promise<T>,
    options: GuardOptions,
    policy: RetryPolicy | null,
    idempotencyKey?: string,
  ): Promise<T> {
    const { database, operation, requestId, readOnly, deadlineMs, signal } = options;
    if (
      database === undefined &&
      operation === undefined &&
      requestId === undefined &&
      !readOnly &&
      deadlineMs === undefined &&
      signal === undefined
    ) {
      this.defaultUnit ??= this.runner.prepare({ database: this.dataSources.defaultName, operation: undefined });
      return this.runner.runPrepared(work, this.defaultUnit, policy, idempotencyKey);
    }
    const unit: UnitOfWork = {
      database: options.database ?? this.dataSources.defaultName,
      operation: options.operation,
      requestId: options.requestId,
      readOnly: options.readOnly,
      deadline: options.deadlineMs === undefined ? undefined : deadlineFrom(options.deadlineMs),
      signal,
    };
    return this.runner.run(work, unit, policy, idempotencyKey);
  }

  /**
   * For the @Retryable explorer (a symbol, not part of the public API): a guard prepared once per decorated
   * method, so that a call that succeeds costs one context switch and little more (its breaker, budget and
   * admission are looked up once).
   */
  [PREPARE_GUARD](options: GuardOptions, policy: RetryPolicy | null): <T>(work: () => Promise<T>) => Promise<T> {
    const database = options.database ?? this.dataSources.defaultName;
    const { operation, deadlineMs, readOnly } = options;
    if (deadlineMs === undefined) {
      const unit: UnitOfWork = { database, operation, readOnly };
      let prepared: PreparedUnit | undefined; // on the first call, as the breaker and the admission are made
      return (work) => this.runner.runPrepared(work, (prepared ??= this.runner.prepare(unit)), policy);
    }
    deadlineFrom(deadlineMs); // a bad value fails at start-up
    return (work) =>
      this.runner.run(work, { database, operation, readOnly, deadline: deadlineFrom(deadlineMs) }, policy);
  }
}

const NO_OPTIONS: ExecuteOptions = Object.freeze({});

function deadlineFrom(ms: number): UnitOfWork['deadline'] {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError('deadlineMs must be a positive number of milliseconds');
  return { at: Date.now() + ms, ms };
}
