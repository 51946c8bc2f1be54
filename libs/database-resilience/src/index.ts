/** The public API of nestjs-database-resilience, each name documented in docs/API.md. */
export { DatabaseResilienceModule } from './database-resilience.module';
export type { DatabaseResilienceOptions, JitterKind } from './options/database-resilience-options';
export { ResilienceOptionsError } from './options/resilience-options.error';

export { ResilienceService } from './retry/resilience.service';
export { Retryable } from './retry/retryable.decorator';
export type {
  RetryOptions,
  RetryInfo,
  RetryableOptions,
  ExecuteOptions,
  TransactionOptions,
} from './retry/retry-options';
export { resilienceDetailsOf, type ResilienceErrorDetails } from './retry/resilience-error-details';
export { ResilienceEvents, type ResilienceListener, type SubscribeOptions } from './events/resilience-events';
export type { ResilienceEvent, ResilienceEventOf } from './events/resilience-event';
export {
  ErrorStatisticsService,
  type ErrorStatistics,
  type StatisticsQuery,
  type WindowTotals,
} from './history/error-statistics.service';
export type { ErrorRecordView, ErrorOutcome } from './history/error-history';
export {
  DeadlockAnalyticsService,
  type CertificationConflictReport,
  type DeadlockReport,
} from './deadlock/deadlock-analytics.service';
export type { DeadlockAccount, DeadlockTransaction, DeadlockLock } from './engines/deadlock-account';
export { AlertsService } from './alerts/alerts.service';
export { HealthReportService } from './alerts/health-report.service';
export type { Alert, AlertRule, AlertCallback } from './events/alert';
export { CircuitBreakerRegistry } from './circuit-breaker/circuit-breaker.registry';
export type {
  CircuitBreakerView as CircuitBreaker,
  CircuitBreakerSnapshot,
  CircuitState,
} from './circuit-breaker/circuit-breaker';
export { CircuitOpenError } from './circuit-breaker/circuit-open.error';
export { SharedStateStore, type SharedStateMessage } from './shared-state/shared-state-store';
export { DatabaseErrorHandler } from './retry/database-error-handler.decorator';
export { DegradationService, type DegradationState } from './degradation/degradation.service';
export { NonEssential } from './degradation/non-essential.decorator';
export { CommitOutcomeUnknownError } from './errors/commit-outcome-unknown.error';
export { PoolAcquireTimeoutError } from './errors/pool-acquire-timeout.error';
export { ConcurrencyLimitExceededError } from './errors/concurrency-limit-exceeded.error';
export { RetryBudgetExhaustedError } from './errors/retry-budget-exhausted.error';
export { DeadlineExceededError } from './errors/deadline-exceeded.error';
export { RequestCancelledError } from './errors/request-cancelled.error';
export { TransactionRolledBackError } from './errors/transaction-rolled-back.error';
export { replicaTolerantDataSource } from './engines/postgres/replica-tolerant-data-source';

export { ErrorClassifier } from './classification/error-classifier';
export type { CertificationConflict, ClassifiedError, MatchedBy } from './classification/classified-error';
export type { ClassificationRule } from './classification/classification-rule';
export { ErrorCategory } from './classification/error-category.enum';
export { RecoveryAction } from './classification/recovery-action.enum';
export { RetryScope } from './classification/retry-scope.enum';
export { Severity } from './classification/severity.enum';

export { DatabaseHealthService, type DatabaseHealth, type HealthStatus } from './health/health-check.service';
export {
  DatabaseResilienceHealthIndicator,
  type ResilienceHealthResult,
} from './health/database-resilience.health-indicator';
export { PoolMonitor } from './pool/pool-monitor';
export type { ClusterNodeState, PoolFigures } from './engines/database-engine';
export type { ConcurrencyLimitState } from './engines/pool-concurrency-limit';
export { SlowQueryLog, type SlowQueryView, type SlowQueryTotals } from './history/slow-query-log.service';
export { METRIC as RESILIENCE_METRICS } from './metrics/metric-providers';
export { DatabaseExceptionFilter, type DatabaseErrorBody } from './http/database-exception.filter';
export { AnyDatabaseError } from './http/database-error.matcher';
