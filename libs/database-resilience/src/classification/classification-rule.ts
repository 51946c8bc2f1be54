import type { ErrorCategory } from './error-category.enum';
import type { ErrorFacts } from './error-facts';
import type { RecoveryAction } from './recovery-action.enum';
import type { RetryScope } from './retry-scope.enum';
import type { Severity } from './severity.enum';

/**
 * A classification of your own, consulted before the catalogue (`classifier.rules` in the options). Every
 * matcher given must match. A `test` that throws counts as no match.
 */
export interface ClassificationRule {
  name?: string;
  errno?: number | readonly number[];
  code?: string | readonly string[];
  sqlState?: string;
  message?: RegExp;
  test?: (facts: ErrorFacts, error: unknown) => boolean;
  category: ErrorCategory;
  severity: Severity;
  action: RecoveryAction;
  /** Default: `never`. */
  scope?: RetryScope;
  /** Default: false. */
  serverUnwell?: boolean;
}
