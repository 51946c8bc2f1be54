import { HttpException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ErrorCategory } from '../classification/error-category.enum';
import { CircuitOpenError } from '../circuit-breaker/circuit-open.error';
import { databaseErrorMarkOf } from '../errors/database-error-marks';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { RequestCancelledError } from '../errors/request-cancelled.error';
import { PoolAcquireTimeoutError } from '../errors/pool-acquire-timeout.error';
import { ConcurrencyLimitExceededError } from '../errors/concurrency-limit-exceeded.error';
import { resilienceDetailsOf } from '../retry/resilience-error-details';

/**
 * Not a class of errors but a test, for `@Catch()`: `error instanceof AnyDatabaseError` holds for what the module
 * knows to come from a database — a TypeORM QueryFailedError, an error the connection guard saw (raw driver
 * errors included), one the retry runner gave up on, and the module's own errors. Everything else, HTTP
 * exceptions included, goes past the module's filter to the app's filters and Nest's own handling.
 */
export class AnyDatabaseError {
  static [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || value instanceof HttpException) return false;
    return (
      value instanceof QueryFailedError ||
      value instanceof CircuitOpenError ||
      value instanceof CommitOutcomeUnknownError ||
      value instanceof PoolAcquireTimeoutError ||
      value instanceof ConcurrencyLimitExceededError ||
      value instanceof DeadlineExceededError ||
      value instanceof RequestCancelledError ||
      databaseErrorMarkOf(value) !== undefined ||
      // the runner attaches details to whatever it gave up on: an app's own error inside a unit of work stays the app's
      (resilienceDetailsOf(value)?.classified.category ?? ErrorCategory.UNKNOWN) !== ErrorCategory.UNKNOWN
    );
  }
}
