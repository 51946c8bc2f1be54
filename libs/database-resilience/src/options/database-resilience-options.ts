import type { ClassificationRule } from '../classification/classification-rule';
import type { ErrorCategory } from '../classification/error-category.enum';
import type { Severity } from '../classification/severity.enum';

/** How retry delays are spread (see docs/CONFIGURATION.md). */
export type JitterKind = 'full' | 'equal' | 'decorrelated' | 'none';

/**
 * Options of `DatabaseResilienceModule.forRoot()`. Every field is optional; the defaults are in
 * docs/CONFIGURATION.md and in `options.schema.ts`. They are validated at start-up.
 */
export interface DatabaseResilienceOptions {
  /** TypeORM DataSource names the module guards. Default `['default']`. */
  databases?: string[];
  classifier?: {
    /** Your own classifications, consulted before the catalogue. */
    rules?: ClassificationRule[];
  };
  retry?: {
    /** Attempts in all, the first included. Default 3. */
    maxAttempts?: number;
    /** Delay before the first retry, before jitter. Default 50 ms. */
    baseDelayMs?: number;
    /** Upper bound of one delay. Default 2000 ms. */
    maxDelayMs?: number;
    /** Default `full`. */
    jitter?: JitterKind;
    /** Total time one unit of work may spend in attempts and delays. Default 10 000 ms. */
    budgetMs?: number;
    /** Categories to retry. Default: whatever the classifier says is safe to retry. */
    retryOn?: `${ErrorCategory}`[];
  };
  pool?: {
    /** Longest wait for a pool connection (mysql2 has no bound); then a `PoolAcquireTimeoutError`. Default 10 000 ms. */
    acquireTimeoutMs?: number;
    /** A connection idle longer than this is pinged before use, and replaced if dead. `null`: never. Default 5 000 ms. */
    validateAfterIdleMs?: number | null;
    /** Longest wait for that ping. Default 2 000 ms. */
    validationTimeoutMs?: number;
  };
  idempotency?: {
    /** Table of the markers that settle an ambiguous commit. Created on first use. Default `resilience_idempotency_keys`. */
    table?: string;
    /** Longest time to settle an ambiguous commit (kill the old session, wait it out, look the marker up). Default 10 000 ms. */
    settleTimeoutMs?: number;
  };
  circuitBreaker?: {
    /** Consecutive server-side failures that open a breaker. Default 5. */
    failureThreshold?: number;
    /** Time an open breaker waits before it admits a probe. Default 60 000 ms. */
    recoveryTimeoutMs?: number;
    /** Probes admitted while half-open. Default 1. */
    halfOpenMaxProbes?: number;
  };
  history?: {
    /** Errors kept for the recent-errors view. Default 1000. */
    maxEntries?: number;
  };
  alerts?: {
    /** Lowest severity that raises an alert. Default `critical`. */
    minSeverity?: `${Severity}`;
    email?: {
      /** `smtp://` or `smtps://` URL of the mail server. */
      smtpUrl: string;
      from: string;
      to: string[];
      /** Default `[db-resilience]`. */
      subjectPrefix?: string;
    };
  };
}
