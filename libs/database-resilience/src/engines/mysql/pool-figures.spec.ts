import { poolFiguresOf, primaryPoolSize } from './pool-figures';

describe('pool figures of a TypeORM mysql driver', () => {
  const pool = (connectionLimit: number, all = 0, free = 0) => ({
    config: { connectionLimit },
    _allConnections: { length: all },
    _freeConnections: { length: free },
    _connectionQueue: { length: 0 },
  });
  const cluster = { poolCluster: { _nodes: { MASTER: { pool: pool(10, 4, 1) }, SLAVE0: { pool: pool(20, 2, 2) } } } };

  it("the primary's pool size: the pool's, or the MASTER node's of a cluster (not the nodes' sum), else null", () => {
    expect(primaryPoolSize({ pool: pool(7) })).toBe(7);
    expect(primaryPoolSize(cluster)).toBe(10);
    expect(primaryPoolSize({})).toBeNull();
  });

  it("the figures sum a cluster's nodes", () => {
    expect(poolFiguresOf(cluster)).toEqual({ total: 6, idle: 3, inUse: 3, waiting: 0, limit: 30 });
  });
});
