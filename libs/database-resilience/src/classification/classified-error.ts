import type { ErrorCategory } from './error-category.enum';
import type { RecoveryAction } from './recovery-action.enum';
import type { RetryScope } from './retry-scope.enum';
import type { Severity } from './severity.enum';

/** Which part of the catalogue recognised the error. */
export type MatchedBy = 'rule' | 'errno' | 'code' | 'sqlState' | 'message' | 'none';

/** What an error means, as `ErrorClassifier.classify()` tells it. Safe to log and serialise: no values, no secrets. */
export interface ClassifiedError {
  readonly category: ErrorCategory;
  readonly severity: Severity;
  readonly action: RecoveryAction;
  /** Whether a retry (at `scope`) is safe. */
  readonly retryable: boolean;
  readonly scope: RetryScope;
  /** The failure says the server is unwell, so it counts toward a circuit breaker. Caller errors never do. */
  readonly serverUnwell: boolean;
  /** The catalogue's name for the error: ER_LOCK_DEADLOCK, ECONNREFUSED, a rule's name, UNKNOWN. */
  readonly name: string;
  readonly matchedBy: MatchedBy;
  readonly errno?: number;
  readonly code?: string;
  readonly sqlState?: string;
  readonly fatal?: boolean;
  /** The error's message with values and credentials taken out. */
  readonly message: string;
  /** The failed statement's fingerprint (values replaced by `?`), when the error carried its SQL. */
  readonly sql?: string;
  /** A cluster's certification conflict (Galera: 1213 at COMMIT): what the rolled-back transaction wrote, and where. */
  readonly conflict?: CertificationConflict;
}

/** The losing side of a certification conflict: another node committed a conflicting write first. */
export interface CertificationConflict {
  /** The node the transaction ran on, as the connection reached it (host:port). */
  readonly node?: string;
  /** The transaction's writes, fingerprinted (no values). */
  readonly statements: readonly string[];
  /** The tables they wrote. */
  readonly tables: readonly string[];
}
