/** A connection pool at one moment. */
export interface PoolFigures {
  /** Connections open (idle + in use). */
  total: number;
  idle: number;
  inUse: number;
  /** Callers waiting for a connection. */
  waiting: number;
  /** The pool's connection limit (`poolSize` / `connectionLimit`); null when unlimited. */
  limit: number | null;
}

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

/** Every connection in use and callers queued behind them. */
export function isSaturated(figures: PoolFigures): boolean {
  return figures.limit !== null && figures.inUse >= figures.limit && figures.waiting > 0;
}
