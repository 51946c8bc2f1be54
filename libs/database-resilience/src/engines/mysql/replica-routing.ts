import type { ResilienceLogger } from '../../events/resilience-logger';
import type { DataSource } from 'typeorm';
import type { ErrorClassifier } from '../../classification/error-classifier';
import { housekeeping } from '../../context/unit-of-work';
import type { Mysql2Connection } from './mysql2-connection';
import type { Obtain, PoolBorrow } from './pool-borrow';

/** The parts of mysql2's PoolCluster and TypeORM's MysqlDriver that putting a replica back needs. */
export interface ReplicaCluster {
  on(event: 'remove', listener: (nodeId: string) => void): void;
  add(id: string, config: unknown): void;
}
interface ReplicaNodes {
  of(pattern: string): { getConnection(callback: (error: unknown, connection?: Mysql2Connection) => void): void };
}
export interface ReplicatedDriver {
  options: { replication?: { master?: unknown; slaves?: unknown[] } };
  createConnectionOptions(options: unknown, credentials: unknown): unknown;
}

/**
 * Reads under TypeORM replication: from a replica (whatever the primary's breaker says), or from the primary
 * while the replicas are failing; a failing replica is left out for `retryMs`, and a node mysql2's PoolCluster
 * removed for good is put back after that long, so that the service heals without a restart.
 */
export class ReplicaRouting {
  /** Until when the replicas are left out after a failure. */
  private downUntil = 0;

  constructor(
    private readonly database: string,
    private readonly retryMs: number,
    private readonly pool: PoolBorrow,
    private readonly classifier: ErrorClassifier,
    private readonly logger: ResilienceLogger,
  ) {}

  /** A replica connection (`instrument`ed), or the primary's (`primary`) while the replicas are down. */
  async borrow(
    obtain: Obtain,
    instrument: (connection: Mysql2Connection) => void,
    primary: () => Promise<Mysql2Connection>,
  ): Promise<Mysql2Connection> {
    if (Date.now() >= this.downUntil) {
      try {
        const connection = await this.pool.acquired(obtain);
        instrument(connection);
        if (await this.pool.isAlive(connection)) return connection;
        connection.destroy();
      } catch (error) {
        this.downUntil = Date.now() + this.retryMs;
        this.logger.warn(
          `Replicas of "${this.database}" unavailable (${this.classifier.classify(error).message}): reads go to the primary for ${this.retryMs} ms`,
          { event: 'replicas-unavailable', database: this.database },
        );
      }
    }
    return primary();
  }

  /** mysql2's PoolCluster removes a node for good after a few connect errors (the primary too): put it back. */
  putBackRemoved(driver: ReplicatedDriver, cluster: ReplicaCluster): void {
    cluster.on('remove', (nodeId: string) => {
      const replication = driver.options.replication;
      const index = /^SLAVE(\d+)$/.exec(nodeId)?.[1];
      const node =
        nodeId === 'MASTER'
          ? replication?.master
          : index === undefined
            ? undefined
            : replication?.slaves?.[Number(index)];
      if (node === undefined) return;
      setTimeout(() => {
        try {
          cluster.add(nodeId, driver.createConnectionOptions(driver.options, node));
        } catch (error) {
          this.logger.warn(
            `Could not put node ${nodeId} of "${this.database}" back: ${this.classifier.classify(error).message}`,
            { event: 'node-not-restored', database: this.database },
          );
        }
      }, this.retryMs).unref();
    });
  }

  /** The replica nodes, each with a way to borrow one of its connections (for the health check). */
  nodes(dataSource: DataSource): Array<{ node: string; obtain: () => Promise<Mysql2Connection> }> {
    const cluster = (dataSource.driver as unknown as { poolCluster?: ReplicaNodes }).poolCluster;
    const slaves = (dataSource.driver as unknown as ReplicatedDriver).options.replication?.slaves ?? [];
    if (!cluster) return [];
    return slaves.map((_, index) => {
      const node = `SLAVE${index}`;
      const obtain: Obtain = (callback) => cluster.of(node).getConnection(callback);
      return { node, obtain: () => housekeeping(() => this.pool.acquired(obtain)) };
    });
  }
}
