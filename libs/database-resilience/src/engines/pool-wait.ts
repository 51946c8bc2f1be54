import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { PoolAcquireTimeoutError } from '../errors/pool-acquire-timeout.error';

/**
 * How long a borrow may wait for a pool connection: `poolWaitMs` (`pool.acquireTimeoutMs`), never past the
 * caller's deadline; and the error when that runs out — the deadline's when it came first, else the pool's.
 */
export function poolWait(
  database: string,
  poolWaitMs: number,
  deadline: { at: number; ms: number } | undefined,
  now = Date.now(),
): { waitMs: number; timeoutError: () => Error } {
  const leftMs = deadline === undefined ? Infinity : deadline.at - now;
  const waitMs = Math.max(0, Math.min(poolWaitMs, leftMs));
  return {
    waitMs,
    timeoutError: () =>
      leftMs < poolWaitMs
        ? new DeadlineExceededError(deadline!.ms, database)
        : new PoolAcquireTimeoutError(database, waitMs),
  };
}
