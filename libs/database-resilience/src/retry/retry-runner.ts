import type { ClassifiedError } from '../classification/classified-error';
import { ErrorCategory } from '../classification/error-category.enum';
import type { ErrorClassifier } from '../classification/error-classifier';
import type { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import {
  abortedByOf,
  databaseErrorMarkOf,
  markDatabaseError,
  outcomeUnknownOf,
  wasCounted,
} from '../errors/database-error-marks';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import { RequestCancelledError } from '../errors/request-cancelled.error';
import { RetryBudgetExhaustedError } from '../errors/retry-budget-exhausted.error';
import type { ResilienceEvents } from '../events/resilience-events';
import { backoffDelay } from './backoff';
import { CommitNotAppliedError } from './commit-not-applied.error';
import { attachDetails } from './resilience-error-details';
import type { RetryPolicy } from './retry-options';
import type { RetryBudget } from './retry-budget';
import type { RetryBudgets } from './retry-budgets';
import type { DeadlockAdmissions } from './deadlock-admission';
import { nextUnitId, unitOfWork, type UnitOfWork } from '../context/unit-of-work';
import { requestContext } from '../context/request-context';
import { rejectLater, startWork } from './promise-plumbing';
import { prepareUnit, type PreparedUnit } from './prepared-unit';

export type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The catalogue's name for a borrow the pool's concurrency limit shed. */
const SHED = 'CONCURRENCY_LIMIT';
/** A caller that went away (RequestCancelledError). */
const CANCELLED = 'REQUEST_CANCELLED';

/** One call of run(): what its attempts need. */
interface Attempts<T> {
  work: () => Promise<T>;
  prepared: PreparedUnit;
  policy: RetryPolicy | null;
  idempotencyKey: string | undefined;
  startedAt: number;
}

type Verdict = { retry: true; delayMs: number } | { retry: false; error: unknown };

/**
 * Runs a unit of work and re-runs the whole of it after a failure that is safe to retry, with backoff and
 * jitter, within the attempt count, the time budget and the caller's deadline. A failure after COMMIT (or an
 * autocommit write) was sent is never retried blindly: it becomes a CommitOutcomeUnknownError.
 * Inside another unit of work it runs once: the outer unit retries.
 */
export class RetryRunner {
  constructor(
    private readonly classifier: ErrorClassifier,
    private readonly events: ResilienceEvents,
    private readonly breakers: CircuitBreakerRegistry,
    private readonly budgets: RetryBudgets,
    private readonly admissions: DeadlockAdmissions,
    private readonly random: () => number = Math.random,
    private readonly sleep: Sleep = realSleep,
  ) {}

  /** The unit's breaker, budget and admission, for runPrepared(); made on first use like each of them. */
  prepare(unit: Omit<UnitOfWork, 'manager'>): PreparedUnit {
    return prepareUnit(unit, this.breakers, this.budgets, this.admissions);
  }

  run<T>(
    work: () => Promise<T>,
    unit: Omit<UnitOfWork, 'manager'>,
    policy: RetryPolicy | null,
    idempotencyKey?: string,
  ): Promise<T> {
    return this.runPrepared(work, this.prepare(unit), policy, idempotencyKey);
  }

  runPrepared<T>(
    work: () => Promise<T>,
    prepared: PreparedUnit,
    policy: RetryPolicy | null,
    idempotencyKey?: string,
  ): Promise<T> {
    if (unitOfWork.getStore()) return startWork(work); // inside another unit: it retries, this runs once
    const { unit, breaker, admission } = prepared;
    // Open: rejected before any work, without throwing through the loop (the cheap path while a server is down).
    // Rejections are counted on the breaker, not recorded as errors: they would push real errors out of the history.
    const rejected = unit.readOnly ? undefined : breaker.rejection();
    if (rejected) return rejectLater(rejected);
    const startedAt = Date.now();
    prepared.budget.firstAttempt(startedAt);
    if (unit.signal || (admission && !admission.tryAdmit())) {
      return this.attempts({ work, prepared, policy, idempotencyKey, startedAt }, false);
    }
    // The common path: the first attempt with no async frame of the runner's own; the loop only after a failure.
    return unitOfWork
      .run(unit, startWork<T>, work)
      .then(prepared.succeeded<T>, (error: unknown) =>
        this.attempts({ work, prepared, policy, idempotencyKey, startedAt }, admission !== undefined, error),
      );
  }

  /**
   * The attempts of a unit. With `failure`, the first has already run (the common path in run()) and failed with
   * it: the loop starts from deciding what to do about it.
   */
  private async attempts<T>(run: Attempts<T>, admittedAlready: boolean, ...failure: [unknown] | []): Promise<T> {
    const { work, prepared, policy, idempotencyKey, startedAt } = run;
    const { unit, breaker, budget, admission } = prepared;
    const unitId = nextUnitId();
    let previousDelayMs = 0;
    let admitted = admittedAlready;
    let failed = failure.length > 0;
    let deadlocked = false; // the previous attempt lost a deadlock
    for (let attempt = 1; ; attempt++) {
      try {
        if (failed) {
          failed = false;
          throw failure[0];
        }
        if (unit.signal?.aborted) throw new RequestCancelledError(unit.database); // before an attempt, or a retry
        if (attempt > 1 && !unit.readOnly) {
          const rejected = breaker.rejection(); // an open breaker stops the retries too
          if (rejected) throw rejected;
        }
        if (admission && !admitted) {
          const deadline = unit.deadline ?? requestContext.getStore()?.deadline;
          // The last attempt after a deadlock runs alone among its operation's units: it cannot lose to them again.
          if (deadlocked && attempt === policy?.maxAttempts) await admission.waitAlone(deadline, unit.database);
          else if (!admission.tryAdmit()) await admission.wait(deadline, unit.database);
          admitted = true;
        }
        const result = await unitOfWork.run(unit, work);
        admitted = false; // every attempt is admitted when the operation has an admission: succeeded() releases it
        prepared.succeeded(result);
        if (attempt > 1) {
          this.events.emit({ type: 'recovered', at: Date.now(), unitId, ...this.names(unit), attempts: attempt });
        }
        return result;
      } catch (error) {
        // A PostgreSQL statement refused in an aborted transaction means what aborted it.
        const seen = abortedByOf(error) ?? this.classifier.classify(error);
        deadlocked = seen.category === ErrorCategory.DEADLOCK;
        if (admitted) {
          admitted = false;
          admission!.release(deadlocked);
        }
        if (seen.serverUnwell && !wasCounted(error, breaker.name)) breaker.failure(); // work the connection guard did not see
        const verdict = this.withinBudget(
          this.verdict(error, seen, attempt, policy, unit, startedAt, previousDelayMs, idempotencyKey),
          budget,
          unit.database,
          error,
          seen,
        );
        // What is recorded is what the caller gets: the CommitOutcomeUnknownError, not the socket error inside it.
        const classified = verdict.retry || verdict.error === error ? seen : this.classifier.classify(verdict.error);
        // The decision the filter answers with; an app's own error inside a unit of work stays the app's.
        if (!verdict.retry && (classified.category !== ErrorCategory.UNKNOWN || databaseErrorMarkOf(verdict.error))) {
          markDatabaseError(verdict.error, classified);
        }
        // A call an open breaker turned away is counted by the breaker (`rejected`), one the pool's concurrency
        // limit shed by the limit (`shed`), not recorded as errors: under an outage or overload they would push the
        // real errors out of the history.
        if (!verdict.retry && (classified.category === ErrorCategory.CIRCUIT_OPEN || classified.name === SHED)) {
          attachDetails(verdict.error, { ...this.names(unit), attempts: attempt, classified });
          throw verdict.error;
        }
        const request = requestContext.getStore();
        // A caller that went away is no database failure: said once, not recorded as an error, never retried.
        if (!verdict.retry && classified.name === CANCELLED) {
          const requestId = unit.requestId ?? request?.requestId;
          this.events.emit({
            type: 'request-cancelled',
            at: Date.now(),
            ...this.names(unit),
            requestId,
            route: request?.route,
          });
          // The module's own error, not TypeORM's QueryFailedError around it: what an AbortSignal's user expects.
          const inner = (verdict.error as { driverError?: unknown }).driverError;
          const cancelled = inner instanceof RequestCancelledError ? inner : verdict.error;
          attachDetails(cancelled, { ...this.names(unit), attempts: attempt, classified });
          throw cancelled;
        }
        // A retry the budget refused is recorded as the failure it was (a lock wait stays a lock wait in the
        // statistics and analytics); the caller gets the budget's error, counted by the budget.
        const recorded = verdict.retry || !(verdict.error instanceof RetryBudgetExhaustedError) ? classified : seen;
        this.events.emit({
          type: 'attempt-failed',
          at: Date.now(),
          unitId,
          ...this.names(unit),
          requestId: unit.requestId ?? request?.requestId,
          route: request?.route,
          attempt,
          error: recorded,
          willRetry: verdict.retry,
          delayMs: verdict.retry ? verdict.delayMs : undefined,
        });
        if (!verdict.retry) {
          attachDetails(verdict.error, { ...this.names(unit), attempts: attempt, classified });
          throw verdict.error;
        }
        this.notifyRetry(policy, { ...this.names(unit), attempt, delayMs: verdict.delayMs, error: classified });
        await this.sleep(verdict.delayMs);
        previousDelayMs = verdict.delayMs;
      }
    }
  }

  private verdict(
    error: unknown,
    classified: ClassifiedError,
    attempt: number,
    policy: RetryPolicy | null,
    unit: Omit<UnitOfWork, 'manager'>,
    startedAt: number,
    previousDelayMs: number,
    idempotencyKey: string | undefined,
  ): Verdict {
    const unknownOutcome = outcomeUnknownOf(error);
    let retryable: boolean;
    if (error instanceof CommitNotAppliedError) retryable = true;
    else if (error instanceof CommitOutcomeUnknownError || unknownOutcome) {
      retryable = policy?.idempotent === true;
      if (!retryable && unknownOutcome) {
        const { database, operation } = unit;
        return {
          retry: false,
          error: new CommitOutcomeUnknownError({
            database,
            operation,
            sessionId: unknownOutcome.sessionId,
            idempotencyKey,
            cause: error,
          }),
        };
      }
    } else {
      retryable = classified.retryable && (!policy?.retryOn || policy.retryOn.includes(classified.category));
    }
    // A commit found not applied is, once retries end, the failure that interrupted it.
    const giveUp: Verdict = { retry: false, error: error instanceof CommitNotAppliedError ? error.cause : error };
    if (!policy || !retryable || attempt >= policy.maxAttempts) return giveUp;
    const delayMs = backoffDelay(policy, attempt, previousDelayMs, this.random);
    const now = Date.now();
    if (now - startedAt + delayMs > policy.budgetMs) return giveUp;
    const deadline = unit.deadline ?? requestContext.getStore()?.deadline;
    if (deadline && now + delayMs >= deadline.at) return giveUp;
    return { retry: true, delayMs };
  }

  /**
   * A retry the database's budget cannot pay for becomes a failure of its own (the budget never blocks attempt
   * 1). Retries after a deadlock are not drawn from it: re-running the victim is how contention resolves, and
   * it costs the server what the victim's rollback freed.
   */
  private withinBudget(
    verdict: Verdict,
    budget: RetryBudget,
    database: string,
    error: unknown,
    seen: ClassifiedError,
  ): Verdict {
    if (!verdict.retry || seen.category === ErrorCategory.DEADLOCK || budget.tryRetry()) return verdict;
    return { retry: false, error: new RetryBudgetExhaustedError(database, { cause: error }) };
  }

  private notifyRetry(policy: RetryPolicy | null, info: Parameters<NonNullable<RetryPolicy['onRetry']>>[0]): void {
    try {
      policy?.onRetry?.(info);
    } catch {
      // a hook must not change what happens to the unit of work
    }
  }

  private names(unit: Omit<UnitOfWork, 'manager'>) {
    return { database: unit.database, operation: unit.operation };
  }
}
