import type { GuardSettings, ReplicaCheck, ReplicaRoute } from '../database-engine';
import type { DriverAdapter, GuardedConnection } from './driver-adapter';
import type { Housekeeping } from './housekeeping';
import type { ReplicaRouting } from './replica-routing';

/**
 * The replicas' lag, for the routing: read every `failover.lagCheckIntervalMs` in the background while
 * `failover.maxLagMs` is set (one run at a time; a replica that does not answer rests), and by the health check.
 */
export class ReplicaLag<C extends GuardedConnection, P> {
  private readonly timer?: NodeJS.Timeout;
  private measuring = false;

  constructor(
    private readonly adapter: DriverAdapter<C, P>,
    private readonly routing: ReplicaRouting<P>,
    private readonly housekeeping: Housekeeping<C, P>,
    private readonly settings: GuardSettings,
  ) {
    if (settings.maxLagMs !== null) this.timer = setInterval(() => this.measure(), settings.lagCheckIntervalMs).unref();
  }

  dispose(): void {
    clearInterval(this.timer);
  }

  /** The health check's reading of each replica, which also feeds the routing. */
  async check(timeoutMs: number): Promise<ReplicaCheck[]> {
    const checks = await this.housekeeping.checkReplicas(timeoutMs);
    return checks.map(({ pool, lag, ...check }) => {
      if (check.up) this.routing.measured(pool, check.node, lag);
      return { ...check, routable: check.up && this.routing.routable(pool) };
    });
  }

  /** Each replica's lag as last measured, and whether reads go to it now. */
  routes(): ReplicaRoute[] {
    return this.adapter.replicaPools().map(({ node, pool }) => ({
      node,
      lagSeconds: this.routing.lagOf(pool),
      routable: this.routing.routable(pool),
    }));
  }

  private measure(): void {
    if (this.measuring) return;
    this.measuring = true;
    const boundMs = this.settings.pool.validationTimeoutMs;
    const measured = this.adapter.replicaPools().map(({ node, pool }) =>
      this.housekeeping.replicaLag(pool, boundMs).then(
        (lag) => this.routing.measured(pool, node, lag),
        () => this.routing.down(pool, node),
      ),
    );
    void Promise.all(measured).finally(() => (this.measuring = false));
  }
}
