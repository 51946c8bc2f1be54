import type { ClassifiedError } from '../classification/classified-error';
import type { DatabaseResilienceOptions } from '../options/database-resilience-options';

/** How one unit of work is retried. Unset fields take the module's `retry` options (docs/CONFIGURATION.md). */
export interface RetryOptions extends NonNullable<DatabaseResilienceOptions['retry']> {
  /** Running the unit twice is harmless: retry even when a commit's outcome is unknown. Default false. */
  idempotent?: boolean;
  /** Called before each retry; a hook that throws is ignored. */
  onRetry?: (retry: RetryInfo) => void;
}

export interface RetryInfo {
  database: string;
  operation: string | undefined;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  delayMs: number;
  error: ClassifiedError;
}

/** Where a guarded call runs and how. */
export interface GuardOptions {
  /** TypeORM DataSource name. Default: the first of the module's `databases` (`default`). */
  database?: string;
  /** A name for the work in logs, events and errors (a decorated method is named `Class.method`). */
  operation?: string;
  /** The caller's deadline for the whole call; each statement gets the time left, on the server too. */
  deadlineMs?: number;
  /** The request (or job) this work serves, kept with its errors in the history. */
  requestId?: string;
  /** The work only reads: with TypeORM replication it goes on from replicas while the primary's breaker is open. */
  readOnly?: boolean;
  /**
   * Cancels the call: once aborted, the statement running for it is stopped on the server (KILL QUERY / the cancel
   * request), its transaction rolled back, and the call fails with `RequestCancelledError` (never retried). With
   * `requestContext` on, a request's statements get its client's disconnection as a signal by default.
   */
  signal?: AbortSignal;
}

export interface ExecuteOptions extends GuardOptions {
  /** Default: no retry. `true`: the module's retry options. */
  retry?: RetryOptions | boolean;
}

export interface TransactionOptions extends GuardOptions {
  /** Default: retry with the module's options. `false`: run once. */
  retry?: RetryOptions | boolean;
  /** Makes an ambiguous commit settle-able: a marker row written inside the transaction (max 191 characters). */
  idempotencyKey?: string;
  isolationLevel?: 'READ UNCOMMITTED' | 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';
}

export interface RetryableOptions extends RetryOptions, GuardOptions {}

/** Retry options with every field set. */
export type RetryPolicy = Required<Omit<RetryOptions, 'retryOn' | 'onRetry'>> &
  Pick<RetryOptions, 'retryOn' | 'onRetry'>;
