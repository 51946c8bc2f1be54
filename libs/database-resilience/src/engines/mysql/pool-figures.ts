import type { PoolFigures } from '../database-engine';

/** The parts of mysql2's Pool read here (it has no public accessor for them). */
interface Mysql2Pool {
  _allConnections?: { length: number };
  _freeConnections?: { length: number };
  _connectionQueue?: { length: number };
  config?: { connectionLimit?: number };
}

/** TypeORM's MysqlDriver holds a `pool`, or with replication a `poolCluster` of pools. */
interface PoolHolder {
  pool?: Mysql2Pool;
  poolCluster?: { _nodes?: Record<string, { pool?: Mysql2Pool }> };
}

/** Reads the figures of a TypeORM MySQL driver's pools, summed over a cluster's nodes; undefined if none. */
export function poolFiguresOf(driver: unknown): PoolFigures | undefined {
  const holder = driver as PoolHolder;
  const pools = holder.pool
    ? [holder.pool]
    : Object.values(holder.poolCluster?._nodes ?? {}).flatMap((node) => (node.pool ? [node.pool] : []));
  if (pools.length === 0) return undefined;
  const figures: PoolFigures = { total: 0, idle: 0, inUse: 0, waiting: 0, limit: 0 };
  for (const pool of pools) {
    const total = pool._allConnections?.length ?? 0;
    const idle = pool._freeConnections?.length ?? 0;
    figures.total += total;
    figures.idle += idle;
    figures.inUse += total - idle;
    figures.waiting += pool._connectionQueue?.length ?? 0;
    const limit = pool.config?.connectionLimit;
    figures.limit = figures.limit === null || !limit ? null : figures.limit + limit;
  }
  return figures;
}

/** The size of the primary's pool: the pool's, or a cluster's MASTER node's (TypeORM's name); null if unknown. */
export function primaryPoolSize(driver: unknown): number | null {
  const holder = driver as PoolHolder;
  const pool = holder.pool ?? holder.poolCluster?._nodes?.MASTER?.pool;
  return pool?.config?.connectionLimit || null;
}
