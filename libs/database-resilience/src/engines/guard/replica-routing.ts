import type { ResilienceLogger } from '../../events/resilience-logger';
import type { ClusterNodeState } from '../database-engine';

/** A replica's lag as measured: seconds; null: it does not replicate; undefined: not known (it would not say). */
export type LagReading = number | null | undefined;

/**
 * Which replica a read goes to: one picked at random among those not resting and not too far behind. A replica
 * that failed rests `retryMs` (reads go to the others, or to the primary), its outage said once, and again after it
 * served a read. With `maxLagMs` set, one measured further behind (or not replicating) is left out until it
 * catches up, each change said once; a lag it does not tell (the app's user may not read it) leaves it in.
 */
export class ReplicaRouting<P> {
  private readonly downUntil = new Map<P, number>();
  private readonly warned = new Set<P>();
  private readonly lag = new Map<P, LagReading>();
  private readonly behind = new Set<P>();
  /** Galera nodes not Synced (desynced, joining, out of the primary component). */
  private readonly unsynced = new Set<P>();

  constructor(
    private readonly database: string,
    private readonly retryMs: number,
    private readonly maxLagMs: number | null,
    private readonly logger: ResilienceLogger,
  ) {}

  /** A replica to read from now, or undefined: every one is resting or behind. */
  pick<R extends { readonly pool: P }>(replicas: readonly R[]): R | undefined {
    const now = Date.now();
    const candidates = replicas.filter(({ pool }) => this.routable(pool, now));
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  /** Whether reads go to it now. */
  routable(pool: P, now = Date.now()): boolean {
    return (this.downUntil.get(pool) ?? 0) <= now && !this.behind.has(pool) && !this.unsynced.has(pool);
  }

  /** Its lag as last measured. */
  lagOf(pool: P): number | null {
    return this.lag.get(pool) ?? null;
  }

  /** Its lag was measured (the lag check or the health check); a Galera node's state with it. */
  measured(pool: P, node: string, seconds: LagReading, cluster?: ClusterNodeState): void {
    this.lag.set(pool, seconds);
    if (cluster) this.clusterNode(pool, node, cluster);
    if (this.maxLagMs === null) return;
    const tooFar = seconds === null || (seconds !== undefined && seconds * 1000 > this.maxLagMs);
    if (tooFar === this.behind.has(pool)) return;
    const fields = { event: tooFar ? 'replica-behind' : 'replica-caught-up', database: this.database, node };
    if (tooFar) {
      this.behind.add(pool);
      const how = seconds === null ? 'does not replicate' : `is ${seconds} s behind`;
      this.logger.warn(
        `Replica ${node} of database "${this.database}" ${how} (failover.maxLagMs ${this.maxLagMs}): its reads go elsewhere`,
        fields,
      );
    } else {
      this.behind.delete(pool);
      this.logger.log(`Replica ${node} of database "${this.database}" caught up: reads go to it again`, fields);
    }
  }

  /** A Galera node that is not Synced is left out of reads until it is again; each change said once. */
  private clusterNode(pool: P, node: string, cluster: ClusterNodeState): void {
    if (cluster.synced !== this.unsynced.has(pool)) return;
    const fields = { event: cluster.synced ? 'replica-synced' : 'replica-unsynced', database: this.database, node };
    if (cluster.synced) {
      this.unsynced.delete(pool);
      this.logger.log(`Galera node ${node} of database "${this.database}" is Synced: reads go to it again`, fields);
    } else {
      this.unsynced.add(pool);
      this.logger.warn(
        `Galera node ${node} of database "${this.database}" is ${cluster.state} (${cluster.component}): its reads go elsewhere`,
        fields,
      );
    }
  }

  /** It served a read: its next outage is said again. */
  served(pool: P): void {
    this.warned.delete(pool);
  }

  /** It failed: it rests `retryMs`; said once per outage. */
  down(pool: P, node: string): void {
    const wasUp = (this.downUntil.get(pool) ?? 0) <= Date.now();
    this.downUntil.set(pool, Date.now() + this.retryMs);
    if (!wasUp || this.warned.has(pool)) return;
    this.warned.add(pool);
    this.logger.warn(
      `Replica ${node} of database "${this.database}" does not answer: its reads go elsewhere for ${this.retryMs} ms`,
      { event: 'replica-unavailable', database: this.database, node },
    );
  }
}
