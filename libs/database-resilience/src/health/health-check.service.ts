import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import type { CircuitState } from '../circuit-breaker/circuit-breaker';
import { ErrorClassifier } from '../classification/error-classifier';
import { DegradationService } from '../degradation/degradation.service';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import type { ClusterNodeState, PoolFigures } from '../engines/database-engine';
import { PoolMonitor } from '../pool/pool-monitor';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { DataSourceRegistry, type GuardedDataSource } from '../engines/data-source-registry';
import { ResilienceLogger } from '../events/resilience-logger';

export type HealthStatus = 'up' | 'degraded' | 'down';

/** One database as the last health check found it. Safe to serve: no SQL, no values, no credentials. */
export interface DatabaseHealth {
  database: string;
  /**
   * down: the primary did not answer `SELECT 1` in time; degraded: it did, but its breaker is not closed, a replica
   * is down, or a Galera node is not Synced.
   */
  status: HealthStatus;
  checkedAt: string;
  latencyMs: number;
  /** Why it is down: the classified error, redacted. */
  error: { category: string; code: string | undefined; message: string } | null;
  breaker: CircuitState;
  pool: PoolFigures | null;
  /** A Galera primary's own account (wsrep_local_state, wsrep_ready, flow control); null on other servers. */
  cluster: ClusterNodeState | null;
  /** `routable`: reads go to it now (it answers, is Synced if a Galera node, and is within `failover.maxLagMs`). */
  replicas: Array<{
    node: string;
    up: boolean;
    latencyMs: number;
    lagSeconds: number | null;
    routable: boolean;
    cluster?: ClusterNodeState;
  }>;
}

const INTERVAL_NAME = 'database-resilience-health-check';

/**
 * The scheduled health check (`@nestjs/schedule`, interval from `healthCheck.intervalMs`): `SELECT 1` on each
 * guarded database within `healthCheck.timeoutMs`, the pool's figures, each replica and its lag. A failed check
 * counts as a failure on the database's breaker and degrades the service; a passing one closes an open
 * (not forced) breaker at once. Runs never overlap: a tick that comes while one runs is skipped.
 */
@Injectable()
export class DatabaseHealthService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private readonly latest = new Map<string, DatabaseHealth>();
  private running: Promise<DatabaseHealth[]> | undefined;
  private skippedRuns = 0;

  constructor(
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly dataSources: DataSourceRegistry,
    private readonly breakers: CircuitBreakerRegistry,
    private readonly degradation: DegradationService,
    private readonly pools: PoolMonitor,
    private readonly classifier: ErrorClassifier,
    private readonly events: ResilienceEvents,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const { enabled, intervalMs } = this.options.healthCheck;
    if (!enabled || this.dataSources.list().length === 0) return;
    const timer = setInterval(() => void this.scheduledRun(), intervalMs);
    timer.unref(); // a CLI or a test must be able to exit while it is scheduled
    this.scheduler.addInterval(INTERVAL_NAME, timer);
  }

  onModuleDestroy(): void {
    if (this.scheduler.doesExist('interval', INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
  }

  /** What the last run found, per database (empty before the first run). */
  lastResults(): DatabaseHealth[] {
    return [...this.latest.values()];
  }

  /** Ticks skipped because the previous run had not finished. */
  get skipped(): number {
    return this.skippedRuns;
  }

  /** Runs a check now, or joins the one running. */
  check(): Promise<DatabaseHealth[]> {
    this.running ??= this.runAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async scheduledRun(): Promise<void> {
    if (this.running) {
      this.skippedRuns++;
      return;
    }
    await this.check();
  }

  private async runAll(): Promise<DatabaseHealth[]> {
    const pools = this.pools.check();
    const results = await Promise.all(this.dataSources.list().map((guarded) => this.checkOne(guarded, pools)));
    return results;
  }

  private async checkOne(guarded: GuardedDataSource, pools: Record<string, PoolFigures>): Promise<DatabaseHealth> {
    const { timeoutMs } = this.options.healthCheck;
    const { name, guard } = guarded;
    const [primary, replicas] = await Promise.all([guard.checkPrimary(timeoutMs), guard.checkReplicas(timeoutMs)]);
    const breaker = this.breakers.breaker(name);
    const classified = primary.up ? undefined : this.classifier.classify(primary.error);
    if (classified) {
      if (breaker.state === 'closed' && classified.serverUnwell) breaker.failure();
      this.degradation.degrade(`the health check of "${name}" failed (${classified.category})`, name);
    } else if (breaker.state === 'open' && !breaker.isForced) {
      breaker.probed(true); // the server answers: no need to wait for the recovery timeout
    }
    const status: DatabaseHealth['status'] = !primary.up
      ? 'down'
      : breaker.state !== 'closed' ||
          replicas.some((r) => !r.up || r.cluster?.synced === false) ||
          primary.cluster?.synced === false
        ? 'degraded'
        : 'up';
    const previous = this.latest.get(name)?.status;
    if (previous !== status && (previous !== undefined || status !== 'up')) {
      const line = `Health check: "${name}" is ${status}${classified ? ` (${classified.message})` : ''}`;
      if (status === 'up') this.logger.log(line, { event: 'health-up', database: name });
      else this.logger.warn(line, { event: `health-${status}`, database: name });
    }
    const health: DatabaseHealth = {
      database: name,
      status,
      checkedAt: new Date().toISOString(),
      latencyMs: primary.latencyMs,
      error: classified ? { category: classified.category, code: classified.code, message: classified.message } : null,
      breaker: breaker.state,
      pool: pools[name] ?? null,
      cluster: primary.cluster ?? null,
      replicas,
    };
    this.latest.set(name, health);
    this.events.emit({
      type: 'health-checked',
      at: Date.now(),
      database: name,
      up: primary.up,
      durationMs: primary.latencyMs,
    });
    return health;
  }
}
