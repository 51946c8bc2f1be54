import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';

/**
 * The module's Prometheus metrics, all under `db_resilience_`. Labels are bounded: database names, categories,
 * severities, states, statement kinds, alert rules, route patterns; never SQL, values or messages.
 */
export const METRIC = {
  errors: 'db_resilience_errors_total',
  retries: 'db_resilience_retries_total',
  deadlocks: 'db_resilience_deadlocks_total',
  ambiguousCommits: 'db_resilience_commit_outcome_unknown_total',
  breakerState: 'db_resilience_circuit_breaker_state',
  breakerTransitions: 'db_resilience_circuit_breaker_transitions_total',
  breakerRejections: 'db_resilience_circuit_breaker_rejections_total',
  degraded: 'db_resilience_degraded',
  healthUp: 'db_resilience_health_up',
  healthCheckDuration: 'db_resilience_health_check_duration_seconds',
  queryDuration: 'db_resilience_query_duration_seconds',
  slowQueries: 'db_resilience_slow_queries_total',
  slowRequests: 'db_resilience_slow_requests_total',
  poolConnections: 'db_resilience_pool_connections',
  alerts: 'db_resilience_alerts_total',
  retryBudgetAvailable: 'db_resilience_retry_budget_available',
  retryBudgetRefused: 'db_resilience_retry_budget_refused_total',
  admissionLimit: 'db_resilience_deadlock_admission_limit',
  concurrencyLimit: 'db_resilience_concurrency_limit',
  concurrencyShed: 'db_resilience_concurrency_shed_total',
  replicaLag: 'db_resilience_replica_lag_seconds',
  replicaRoutable: 'db_resilience_replica_routable',
  writerChanges: 'db_resilience_writer_changes_total',
  cancelled: 'db_resilience_cancelled_total',
} as const;

/**
 * Gauges read at scrape time from the module instances alive in this process. prom-client's registry is
 * process-wide and keeps the first `collect` it was given, so the gauges ask whoever is alive now, not the
 * app that happened to register them first.
 */
export interface GaugeSource {
  collectBreakerStates(gauge: Gauge): void;
  collectDegraded(gauge: Gauge): void;
  collectPools(gauge: Gauge): void;
  collectBreakerRejections(counter: Counter): void;
  collectRetryBudgets(gauge: Gauge): void;
  collectRetryBudgetRefusals(counter: Counter): void;
  collectAdmissionLimits(gauge: Gauge): void;
  collectConcurrencyLimits(gauge: Gauge): void;
  collectConcurrencyShed(counter: Counter): void;
  collectReplicaLag(gauge: Gauge): void;
  collectReplicaRoutable(gauge: Gauge): void;
}
export const liveGaugeSources = new Set<GaugeSource>();

function collectFrom<M extends Gauge | Counter>(read: (source: GaugeSource, metric: M) => void) {
  return function (this: M) {
    this.reset();
    for (const source of liveGaugeSources) read(source, this);
  };
}

/** Histogram buckets for durations, in seconds. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const metricProviders = [
  makeCounterProvider({
    name: METRIC.errors,
    help: 'Database errors recorded (each failed attempt once), by database, category and severity',
    labelNames: ['database', 'category', 'severity'],
  }),
  makeCounterProvider({
    name: METRIC.retries,
    help: 'Retries of units of work: scheduled (a new attempt), recovered (succeeded after retries), exhausted (gave up after retrying)',
    labelNames: ['database', 'outcome'],
  }),
  makeCounterProvider({
    name: METRIC.deadlocks,
    help: 'Deadlocks met (each victim attempt once)',
    labelNames: ['database'],
  }),
  makeCounterProvider({
    name: METRIC.ambiguousCommits,
    help: 'Commits whose outcome was unknown, by what settling them found (committed: true, false)',
    labelNames: ['database', 'committed'],
  }),
  makeGaugeProvider({
    name: METRIC.breakerState,
    help: 'Circuit breaker state: 1 for the current state (closed, open, half-open), 0 for the others',
    labelNames: ['database', 'state'],
    collect: collectFrom((source, gauge) => source.collectBreakerStates(gauge)),
  }),
  makeCounterProvider({
    name: METRIC.breakerTransitions,
    help: 'Circuit breaker transitions, by the state entered',
    labelNames: ['database', 'to'],
  }),
  makeCounterProvider({
    name: METRIC.breakerRejections,
    help: 'Calls an open circuit breaker turned away without touching the server (counted here, not as errors)',
    labelNames: ['database'],
    collect: collectFrom<Counter>((source, counter) => source.collectBreakerRejections(counter)),
  }),
  makeGaugeProvider({
    name: METRIC.degraded,
    help: '1 while graceful degradation is on (non-essential routes answer 503)',
    collect: collectFrom((source, gauge) => source.collectDegraded(gauge)),
  }),
  makeGaugeProvider({
    name: METRIC.healthUp,
    help: '1 if the last scheduled health check of the database passed, 0 if not',
    labelNames: ['database'],
  }),
  makeHistogramProvider({
    name: METRIC.healthCheckDuration,
    help: 'Duration of the scheduled health check (SELECT 1) per database',
    labelNames: ['database'],
    buckets: DURATION_BUCKETS,
  }),
  makeCounterProvider({
    name: METRIC.slowQueries,
    help: 'Statements slower than queries.slowQueryMs',
    labelNames: ['database'],
  }),
  makeCounterProvider({
    name: METRIC.slowRequests,
    help: 'HTTP requests slower than http.slowRequestMs, by route pattern',
    labelNames: ['route'],
  }),
  makeGaugeProvider({
    name: METRIC.poolConnections,
    help: 'Connection pool of each guarded DataSource: connections idle, in use, callers waiting, and the limit',
    labelNames: ['database', 'state'],
    collect: collectFrom((source, gauge) => source.collectPools(gauge)),
  }),
  makeCounterProvider({
    name: METRIC.alerts,
    help: 'Alerts raised, by rule and database (those held back by the cooldown are not counted)',
    labelNames: ['rule', 'database'],
  }),
  makeGaugeProvider({
    name: METRIC.retryBudgetAvailable,
    help: 'Retries the retry budget of each database still allows on this instance now (retryBudget)',
    labelNames: ['database'],
    collect: collectFrom((source, gauge) => source.collectRetryBudgets(gauge)),
  }),
  makeCounterProvider({
    name: METRIC.retryBudgetRefused,
    help: 'Retries the retry budget refused: the unit of work failed with RetryBudgetExhaustedError instead',
    labelNames: ['database'],
    collect: collectFrom<Counter>((source, counter) => source.collectRetryBudgetRefusals(counter)),
  }),
  makeGaugeProvider({
    name: METRIC.admissionLimit,
    help: 'Units of an operation admitted at once after it deadlocked (deadlockAdmission); absent while no limit applies',
    labelNames: ['database', 'operation'],
    collect: collectFrom((source, gauge) => source.collectAdmissionLimits(gauge)),
  }),
  makeGaugeProvider({
    name: METRIC.concurrencyLimit,
    help: 'The adaptive limit in front of each pool (concurrencyLimit): the limit, borrows in flight, borrows waiting',
    labelNames: ['database', 'state'],
    collect: collectFrom((source, gauge) => source.collectConcurrencyLimits(gauge)),
  }),
  makeCounterProvider({
    name: METRIC.concurrencyShed,
    help: 'Borrows the adaptive limit in front of the pool shed (concurrencyLimit): answered 503 without reaching the server',
    labelNames: ['database'],
    collect: collectFrom<Counter>((source, counter) => source.collectConcurrencyShed(counter)),
  }),
  makeGaugeProvider({
    name: METRIC.replicaLag,
    help: "Each replica's lag as last measured (failover.maxLagMs, or the health check); absent while not known",
    labelNames: ['database', 'node'],
    collect: collectFrom((source, gauge) => source.collectReplicaLag(gauge)),
  }),
  makeGaugeProvider({
    name: METRIC.replicaRoutable,
    help: '1 while reads go to the replica: it answers, and is within failover.maxLagMs',
    labelNames: ['database', 'node'],
    collect: collectFrom((source, gauge) => source.collectReplicaRoutable(gauge)),
  }),
  makeCounterProvider({
    name: METRIC.writerChanges,
    help: 'Writer failovers: the writer behind the endpoint changed and a write succeeded on the new one',
    labelNames: ['database'],
  }),
  makeCounterProvider({
    name: METRIC.cancelled,
    help: 'Work stopped because its caller went away (HTTP client disconnected, or its signal aborted)',
    labelNames: ['database'],
  }),
];
