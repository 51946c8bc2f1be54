import { Inject, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { RequestContextMiddleware } from './http/request-context.middleware';
import { DiscoveryModule } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { DatabaseResilienceHealthIndicator } from './health/database-resilience.health-indicator';
import { DatabaseHealthService } from './health/health-check.service';
import { SlowQueryLog } from './history/slow-query-log.service';
import { TimelineService } from './history/timeline.service';
import { FleetView } from './history/fleet-view.service';
import { useJsonLogs } from './events/resilience-logger';
import { metricProviders } from './metrics/metric-providers';
import { ResilienceMetrics } from './metrics/resilience-metrics.service';
import { SpanEvents } from './tracing/span-events';
import { PoolMonitor } from './pool/pool-monitor';
import { DegradationService } from './degradation/degradation.service';
import { ErrorClassifier } from './classification/error-classifier';
import {
  ASYNC_OPTIONS_TYPE,
  ConfigurableModuleClass,
  MODULE_EXTRAS,
  OPTIONS_TYPE,
  type ModuleExtras,
  RAW_OPTIONS,
} from './database-resilience.module-definition';
import type { DatabaseResilienceOptions } from './options/database-resilience-options';
import { resolveOptions, storeSettingsOf, type ResolvedResilienceOptions } from './options/options.schema';
import { RESILIENCE_OPTIONS } from './options/resilience-options.token';
import { ResilienceEvents } from './events/resilience-events';
import { ResilienceService } from './retry/resilience.service';
import { RetryBudgets } from './retry/retry-budgets';
import { DeadlockAdmissions } from './retry/deadlock-admission';
import { RetryableExplorer } from './retry/retryable.explorer';
import { DataSourceRegistry } from './engines/data-source-registry';
import { CircuitBreakerRegistry } from './circuit-breaker/circuit-breaker.registry';
import { RedisSharedStateStore } from './shared-state/redis-shared-state-store';
import { MemorySharedStateStore, SharedStateStore } from './shared-state/shared-state-store';
import { AlertsService } from './alerts/alerts.service';
import { HealthReportService } from './alerts/health-report.service';
import { DeadlockAnalyticsService } from './deadlock/deadlock-analytics.service';
import { ErrorStatisticsService } from './history/error-statistics.service';

/**
 * Keeps MySQL/MariaDB-backed services up through deadlocks, lost connections and failovers.
 * `imports: [DatabaseResilienceModule.forRoot()]`; global unless `isGlobal: false`.
 */
@Module({
  imports: [DiscoveryModule, ScheduleModule.forRoot()],
  providers: [
    { provide: RESILIENCE_OPTIONS, useFactory: resolvedAndApplied, inject: [RAW_OPTIONS] },
    {
      provide: ErrorClassifier,
      useFactory: (options: ResolvedResilienceOptions) => new ErrorClassifier(options.classifier.rules),
      inject: [RESILIENCE_OPTIONS],
    },
    ResilienceEvents,
    {
      provide: SharedStateStore,
      useFactory: (options: ResolvedResilienceOptions) => {
        const settings = storeSettingsOf(options);
        if (settings === undefined) return options.sharedState.store; // the app's own
        return settings.type === 'redis'
          ? new RedisSharedStateStore(
              settings.url,
              settings.keyPrefix,
              settings.timeoutMs,
              [settings.secret, settings.previousSecret].filter((s): s is string => s !== undefined),
            )
          : new MemorySharedStateStore();
      },
      inject: [RESILIENCE_OPTIONS],
    },
    CircuitBreakerRegistry,
    DataSourceRegistry,
    ResilienceService,
    {
      provide: DeadlockAdmissions,
      useFactory: (options: ResolvedResilienceOptions) => new DeadlockAdmissions(options.deadlockAdmission),
      inject: [RESILIENCE_OPTIONS],
    },
    RetryBudgets,
    RetryableExplorer,
    ErrorStatisticsService,
    DeadlockAnalyticsService,
    AlertsService,
    HealthReportService,
    DegradationService,
    SlowQueryLog,
    TimelineService,
    FleetView,
    PoolMonitor,
    DatabaseHealthService,
    DatabaseResilienceHealthIndicator,
    ...metricProviders,
    ResilienceMetrics,
    SpanEvents,
  ],
  exports: [
    RESILIENCE_OPTIONS,
    ErrorClassifier,
    ResilienceEvents,
    ResilienceService,
    CircuitBreakerRegistry,
    ErrorStatisticsService,
    DeadlockAnalyticsService,
    AlertsService,
    HealthReportService,
    DegradationService,
    SlowQueryLog,
    PoolMonitor,
    DatabaseHealthService,
    DatabaseResilienceHealthIndicator,
  ],
})
export class DatabaseResilienceModule extends ConfigurableModuleClass implements NestModule {
  constructor(@Inject(MODULE_EXTRAS) private readonly extras: ModuleExtras) {
    super();
  }

  configure(consumer: MiddlewareConsumer): void {
    if (this.extras.requestContext) consumer.apply(RequestContextMiddleware).forRoutes('{*path}');
  }

  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }
}

export type { DatabaseResilienceOptions };

/** The options, checked; the log format is a process-wide setting of the module's logger. */
function resolvedAndApplied(options: DatabaseResilienceOptions | undefined): ResolvedResilienceOptions {
  const resolved = resolveOptions(options);
  useJsonLogs(resolved.logs.json);
  return resolved;
}
