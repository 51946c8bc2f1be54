import type { ClassifiedError } from '../classification/classified-error';
import { ErrorCategory } from '../classification/error-category.enum';

/** The HTTP answer to a database error: a status, a stable code, and a message that is safe to show anyone. */
export interface DatabaseHttpError {
  status: number;
  code: string;
  message: string;
  /** Set on 503: when the client may try again. */
  retryAfterSeconds?: number;
}

type Answer = readonly [status: number, code: string, message: string];

const UNAVAILABLE: Answer = [503, 'DATABASE_UNAVAILABLE', 'The database is unavailable. Try again later.'];

/**
 * By category. A deadlock that is still there after the retries is answered 503: the server rolled the whole
 * transaction back, nothing was applied, and the same request can be sent again after a short wait; 409 would
 * tell the client its request conflicts with the data, which it does not.
 */
const ANSWERS: Record<ErrorCategory, Answer> = {
  [ErrorCategory.CIRCUIT_OPEN]: [503, 'DATABASE_CIRCUIT_OPEN', 'The database is unavailable. Try again later.'],
  [ErrorCategory.CONNECTION]: UNAVAILABLE,
  [ErrorCategory.READ_ONLY]: [503, 'DATABASE_READ_ONLY', 'The database accepts no writes right now. Try again later.'],
  [ErrorCategory.STATEMENT_TIMEOUT]: [503, 'DATABASE_TIMEOUT', 'The database did not answer in time. Try again later.'],
  [ErrorCategory.INTERRUPTED]: [503, 'DATABASE_TIMEOUT', 'The database did not answer in time. Try again later.'],
  [ErrorCategory.LOCK_TIMEOUT]: [503, 'DATABASE_BUSY', 'The data is busy. Try again shortly.'],
  [ErrorCategory.DEADLOCK]: [503, 'DATABASE_BUSY', 'The data is busy. Try again shortly.'],
  [ErrorCategory.OVERLOAD]: [503, 'DATABASE_OVERLOADED', 'The database is overloaded. Try again later.'],
  [ErrorCategory.RESOURCE]: [503, 'DATABASE_OVERLOADED', 'The database is overloaded. Try again later.'],
  [ErrorCategory.INTEGRITY]: [409, 'DATABASE_CONFLICT', 'The request conflicts with existing data.'],
  [ErrorCategory.DATA]: [422, 'DATABASE_INVALID_DATA', 'The request holds data the database cannot store.'],
  [ErrorCategory.SCHEMA]: [500, 'DATABASE_SCHEMA_MISMATCH', 'Internal error.'],
  [ErrorCategory.SYNTAX]: [500, 'DATABASE_QUERY_ERROR', 'Internal error.'],
  [ErrorCategory.AUTHENTICATION]: [500, 'DATABASE_CONFIGURATION', 'Internal error.'],
  [ErrorCategory.CONFIGURATION]: [500, 'DATABASE_CONFIGURATION', 'Internal error.'],
  [ErrorCategory.COMMIT_OUTCOME_UNKNOWN]: [
    500,
    'DATABASE_COMMIT_OUTCOME_UNKNOWN',
    'It is not known whether the change was saved. Check before sending it again.',
  ],
  [ErrorCategory.UNKNOWN]: [500, 'DATABASE_ERROR', 'Internal error.'],
};

/** The answer to a classified database error; `retryAfterMs` (an open breaker's wait) wins over the default. */
export function httpErrorFor(
  classified: ClassifiedError,
  defaultRetryAfterSeconds: number,
  retryAfterMs?: number,
): DatabaseHttpError {
  const [status, code, message] = ANSWERS[classified.category] ?? ANSWERS[ErrorCategory.UNKNOWN];
  if (status !== 503) return { status, code, message };
  const retryAfterSeconds =
    retryAfterMs === undefined ? defaultRetryAfterSeconds : Math.max(1, Math.ceil(retryAfterMs / 1000));
  return { status, code, message, retryAfterSeconds };
}
