import type { ClusterNodeState, GuardSettings, ReplicaCheck, ReplicaRoute } from '../database-engine';
import type { DriverAdapter, GuardedConnection } from './driver-adapter';
import type { Housekeeping } from './housekeeping';
import type { LagReading, ReplicaRouting } from './replica-routing';

/**
 * The replicas' lag, for the routing: read every `failover.lagCheckIntervalMs` in the background while
 * `failover.maxLagMs` is set or a replica is a Galera node (one run at a time; a replica that does not answer
 * rests), and by the health check.
 */
export class ReplicaLag<C extends GuardedConnection, P> {
  private timer?: NodeJS.Timeout;
  /** The one early reading that tells whether replicas are Galera nodes. */
  private firstReading?: NodeJS.Timeout;
  private measuring = false;

  constructor(
    private readonly adapter: DriverAdapter<C, P>,
    private readonly routing: ReplicaRouting<P>,
    private readonly housekeeping: Housekeeping<C, P>,
    private readonly settings: GuardSettings,
  ) {
    if (settings.maxLagMs !== null) this.startMeasuring();
    // Replicas that may be Galera nodes: one early reading tells, and a node's state is then followed.
    else if (adapter.clusterState && adapter.replicaPools().length > 0) {
      this.firstReading = setTimeout(() => this.measure(), 0).unref();
    }
  }

  dispose(): void {
    clearTimeout(this.firstReading);
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The health check's reading of each replica, which also feeds the routing. */
  async check(timeoutMs: number): Promise<ReplicaCheck[]> {
    const checks = await this.housekeeping.checkReplicas(timeoutMs);
    return checks.map(({ pool, lag, ...check }) => {
      if (check.up) this.measured(pool, check.node, lag, check.cluster);
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
      this.housekeeping.replicaState(pool, boundMs).then(
        ({ lag, cluster }) => this.measured(pool, node, lag, cluster),
        () => this.routing.down(pool, node),
      ),
    );
    void Promise.all(measured).finally(() => (this.measuring = false));
  }

  private measured(pool: P, node: string, lag: LagReading, cluster: ClusterNodeState | undefined): void {
    this.routing.measured(pool, node, lag, cluster);
    if (cluster) this.startMeasuring(); // a Galera node's state is followed as a lag is
  }

  private startMeasuring(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.measure(), this.settings.lagCheckIntervalMs).unref();
  }
}
