import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { catalogueSeries } from '../classification/error-catalogue';
import { ErrorCategory } from '../classification/error-category.enum';
import { DegradationService } from '../degradation/degradation.service';
import type { AlertRule } from '../events/alert';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { PoolMonitor } from '../pool/pool-monitor';
import { RetryBudgets } from '../retry/retry-budgets';
import { DeadlockAdmissions } from '../retry/deadlock-admission';
import { METRIC, liveGaugeSources, type GaugeSource } from './metric-providers';
import { QueryDurationHistogram } from './query-duration.histogram';

const STATES = ['closed', 'open', 'half-open'] as const;
/** The events the metrics count (the others are not sent to them). */
const OBSERVED = [
  'query',
  'attempt-failed',
  'recovered',
  'commit-settled',
  'breaker-state',
  'health-checked',
  'slow-query',
  'slow-request',
  'writer-changed',
  'request-cancelled',
  'alert-raised',
] as const;
const ALERT_RULES: readonly AlertRule[] = [
  'severe-error',
  'error-rate',
  'breaker-open',
  'degraded',
  'deadlock-cluster',
  'writer-changed',
];

/** Feeds the Prometheus metrics from the module's events, and the gauges at scrape time. */
@Injectable()
export class ResilienceMetrics implements GaugeSource, OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private unsubscribe: () => void = () => undefined;
  private readonly queryDuration = QueryDurationHistogram.shared();

  constructor(
    private readonly events: ResilienceEvents,
    private readonly breakers: CircuitBreakerRegistry,
    private readonly degradation: DegradationService,
    private readonly pools: PoolMonitor,
    private readonly budgets: RetryBudgets,
    private readonly admissions: DeadlockAdmissions,
    @InjectMetric(METRIC.errors) private readonly errors: Counter<string>,
    @InjectMetric(METRIC.retries) private readonly retries: Counter<string>,
    @InjectMetric(METRIC.deadlocks) private readonly deadlocks: Counter<string>,
    @InjectMetric(METRIC.ambiguousCommits) private readonly ambiguousCommits: Counter<string>,
    @InjectMetric(METRIC.breakerTransitions) private readonly transitions: Counter<string>,
    @InjectMetric(METRIC.healthUp) private readonly healthUp: Gauge<string>,
    @InjectMetric(METRIC.healthCheckDuration) private readonly healthDuration: Histogram<string>,
    @InjectMetric(METRIC.slowQueries) private readonly slowQueries: Counter<string>,
    @InjectMetric(METRIC.slowRequests) private readonly slowRequests: Counter<string>,
    @InjectMetric(METRIC.alerts) private readonly alerts: Counter<string>,
    @InjectMetric(METRIC.writerChanges) private readonly writerChanges: Counter<string>,
    @InjectMetric(METRIC.cancelled) private readonly cancelled: Counter<string>,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  onModuleInit(): void {
    liveGaugeSources.add(this);
    this.unsubscribe = this.events.subscribe((event) => this.observe(event), { types: OBSERVED });
  }

  /**
   * The counters alert rules take `increase()` of start at 0 for every configured database: a series that first
   * appears already at 6 deadlocks shows Prometheus no increase, and the alert would never fire.
   */
  onApplicationBootstrap(): void {
    for (const database of this.options.databases) {
      for (const { category, severity } of catalogueSeries()) this.errors.inc({ database, category, severity }, 0);
      this.deadlocks.inc({ database }, 0);
      for (const outcome of ['scheduled', 'recovered', 'exhausted']) this.retries.inc({ database, outcome }, 0);
      for (const committed of ['true', 'false']) this.ambiguousCommits.inc({ database, committed }, 0);
      this.slowQueries.inc({ database }, 0);
      this.writerChanges.inc({ database }, 0);
      for (const rule of ALERT_RULES) this.alerts.inc({ rule, database }, 0);
    }
  }

  onModuleDestroy(): void {
    liveGaugeSources.delete(this);
    this.unsubscribe();
  }

  collectBreakerStates(gauge: Gauge): void {
    for (const { name, state } of this.breakers.list())
      for (const candidate of STATES) gauge.set({ database: name, state: candidate }, candidate === state ? 1 : 0);
  }

  collectBreakerRejections(counter: Counter): void {
    for (const { name, rejected } of this.breakers.list()) counter.inc({ database: name }, rejected);
  }

  collectRetryBudgets(gauge: Gauge): void {
    for (const [database, budget] of this.budgets.entries()) {
      const available = budget.available();
      if (Number.isFinite(available)) gauge.set({ database }, Math.floor(available));
    }
  }

  collectRetryBudgetRefusals(counter: Counter): void {
    for (const [database, budget] of this.budgets.entries()) counter.inc({ database }, budget.refused);
  }

  collectAdmissionLimits(gauge: Gauge): void {
    for (const { database, operation, limit } of this.admissions.states()) {
      if (limit !== null) gauge.set({ database, operation }, limit);
    }
  }

  collectConcurrencyLimits(gauge: Gauge): void {
    for (const { database, limit, inFlight, waiting } of this.pools.concurrencyLimits()) {
      gauge.set({ database, state: 'limit' }, limit);
      gauge.set({ database, state: 'in_flight' }, inFlight);
      gauge.set({ database, state: 'waiting' }, waiting);
    }
  }

  collectConcurrencyShed(counter: Counter): void {
    for (const { database, shed } of this.pools.concurrencyLimits()) counter.inc({ database }, shed);
  }

  collectReplicaLag(gauge: Gauge): void {
    for (const { database, node, lagSeconds } of this.pools.replicaRoutes()) {
      if (lagSeconds !== null) gauge.set({ database, node }, lagSeconds);
    }
  }

  collectReplicaRoutable(gauge: Gauge): void {
    for (const { database, node, routable } of this.pools.replicaRoutes())
      gauge.set({ database, node }, routable ? 1 : 0);
  }

  collectDegraded(gauge: Gauge): void {
    gauge.set(this.degradation.isDegraded() ? 1 : 0);
  }

  collectPools(gauge: Gauge): void {
    for (const [database, figures] of Object.entries(this.pools.figures())) {
      gauge.set({ database, state: 'idle' }, figures.idle);
      gauge.set({ database, state: 'in_use' }, figures.inUse);
      gauge.set({ database, state: 'waiting' }, figures.waiting);
      if (figures.limit !== null) gauge.set({ database, state: 'limit' }, figures.limit);
    }
  }

  private observe(event: ResilienceEvent): void {
    switch (event.type) {
      case 'query':
        this.queryDuration.of(event.database, event.kind).observe(event.durationMs / 1000);
        break;
      case 'attempt-failed': {
        const { database, error } = event;
        this.errors.inc({ database, category: error.category, severity: error.severity });
        if (error.category === ErrorCategory.DEADLOCK) this.deadlocks.inc({ database });
        if (event.willRetry) this.retries.inc({ database, outcome: 'scheduled' });
        else if (event.attempt > 1) this.retries.inc({ database, outcome: 'exhausted' });
        break;
      }
      case 'recovered':
        this.retries.inc({ database: event.database, outcome: 'recovered' });
        break;
      case 'commit-settled':
        this.ambiguousCommits.inc({ database: event.database, committed: String(event.committed) });
        break;
      case 'breaker-state':
        this.transitions.inc({ database: event.database, to: event.state });
        break;
      case 'health-checked':
        this.healthUp.set({ database: event.database }, event.up ? 1 : 0);
        this.healthDuration.observe({ database: event.database }, event.durationMs / 1000);
        break;
      case 'slow-query':
        this.slowQueries.inc({ database: event.database });
        break;
      case 'slow-request':
        this.slowRequests.inc({ route: event.route });
        break;
      case 'writer-changed':
        this.writerChanges.inc({ database: event.database });
        break;
      case 'request-cancelled':
        this.cancelled.inc({ database: event.database });
        break;
      case 'alert-raised':
        this.alerts.inc({ rule: event.rule, database: event.database });
        break;
    }
  }
}
