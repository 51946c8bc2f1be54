import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const INDEX = join(__dirname, '..', 'libs/database-resilience/src/index.ts');

/** The public surface, values and types alike. A change here is a change of the package's API: say so in docs/API.md. */
const PUBLIC_API = [
  'Alert',
  'AlertCallback',
  'AlertRule',
  'AlertsService',
  'CircuitBreaker',
  'CircuitBreakerRegistry',
  'CircuitBreakerSnapshot',
  'CircuitOpenError',
  'CircuitState',
  'ClassificationRule',
  'ClassifiedError',
  'CommitOutcomeUnknownError',
  'AnyDatabaseError',
  'DatabaseErrorBody',
  'DatabaseErrorHandler',
  'DatabaseExceptionFilter',
  'DatabaseHealth',
  'DatabaseResilienceHealthIndicator',
  'DatabaseResilienceModule',
  'DatabaseResilienceOptions',
  'DeadlineExceededError',
  'RequestCancelledError',
  'TransactionRolledBackError',
  'replicaTolerantDataSource',
  'DeadlockAnalyticsService',
  'CertificationConflict',
  'CertificationConflictReport',
  'ClusterNodeState',
  'DeadlockLock',
  'DeadlockReport',
  'DeadlockTransaction',
  'DegradationService',
  'DegradationState',
  'ErrorCategory',
  'ErrorClassifier',
  'ErrorOutcome',
  'ErrorRecordView',
  'ErrorStatistics',
  'ErrorStatisticsService',
  'ExecuteOptions',
  'DatabaseHealthService',
  'HealthReportService',
  'HealthStatus',
  'DeadlockAccount',
  'JitterKind',
  'MatchedBy',
  'NonEssential',
  'PoolAcquireTimeoutError',
  'ConcurrencyLimitExceededError',
  'ConcurrencyLimitState',
  'RetryBudgetExhaustedError',
  'PoolFigures',
  'PoolMonitor',
  'RESILIENCE_METRICS',
  'RecoveryAction',
  'ResilienceErrorDetails',
  'ResilienceEvent',
  'ResilienceEventOf',
  'ResilienceEvents',
  'ResilienceHealthResult',
  'ResilienceListener',
  'ResilienceOptionsError',
  'ResilienceService',
  'RetryInfo',
  'RetryOptions',
  'RetryScope',
  'Retryable',
  'RetryableOptions',
  'Severity',
  'SharedStateMessage',
  'SharedStateStore',
  'SlowQueryLog',
  'SlowQueryTotals',
  'SlowQueryView',
  'StatisticsQuery',
  'SubscribeOptions',
  'TransactionOptions',
  'WindowTotals',
  'resilienceDetailsOf',
];

/** What index.ts exports, as the compiler sees it (types included). */
function exportedNames(): string[] {
  const program = ts.createProgram([INDEX], {
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
  return checker
    .getExportsOfModule(module)
    .map((symbol) => symbol.name)
    .sort();
}

describe('the public API', () => {
  const names = exportedNames();

  it('is exactly the pinned list: no internal leaks out by accident, nothing public goes missing', () => {
    expect(names).toEqual([...PUBLIC_API].sort());
  });

  it('documents every name in docs/API.md', () => {
    const doc = readFileSync(join(__dirname, '..', 'docs', 'API.md'), 'utf8');
    expect(names.filter((name) => !doc.includes(`\`${name}\``))).toEqual([]);
  });

  it('keeps the internals in: the options token, resolved options, module extras, the explorer hook', () => {
    for (const internal of [
      'RESILIENCE_OPTIONS',
      'ResolvedResilienceOptions',
      'ModuleExtras',
      'GuardOptions',
      'ErrorFacts',
    ])
      expect(names).not.toContain(internal);
  });
});
