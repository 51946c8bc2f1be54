/** No pool connection came within `pool.acquireTimeoutMs`: the pool (or the server behind it) is overloaded. */
export class PoolAcquireTimeoutError extends Error {
  override readonly name = 'PoolAcquireTimeoutError';
  readonly code = 'POOL_ACQUIRE_TIMEOUT';

  constructor(
    readonly database: string,
    readonly waitedMs: number,
  ) {
    super(`No connection from the pool of database "${database}" within ${waitedMs} ms`);
  }
}
