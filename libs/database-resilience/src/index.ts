export { DatabaseResilienceModule } from './database-resilience.module';
export { RESILIENCE_OPTIONS } from './resilience-options.token';
export type { DatabaseResilienceOptions, JitterKind } from './options/database-resilience-options';
export type { ResolvedResilienceOptions } from './options/options.schema';
export { ResilienceOptionsError } from './options/resilience-options.error';

export { ErrorClassifier } from './classification/error-classifier';
export type { ClassifiedError, MatchedBy } from './classification/classified-error';
export type { ClassificationRule } from './classification/classification-rule';
export type { ErrorFacts } from './classification/error-facts';
export { ErrorCategory } from './classification/error-category.enum';
export { RecoveryAction } from './classification/recovery-action.enum';
export { RetryScope } from './classification/retry-scope.enum';
export { Severity } from './classification/severity.enum';
export { fingerprintSql } from './classification/sql-fingerprint';
export { redactMessage } from './classification/redaction';
