import type { ReplicaCheck, ServerCheck } from '../database-engine';
import type { PgConnectionGuard } from './pg-connection-guard';

/**
 * Seconds a standby is behind: 0 while everything received is replayed (the replay timestamp alone grows while
 * the primary is idle), else the age of the last replayed transaction; null when the server is not a standby.
 */
const STANDBY_LAG =
  'SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL ' +
  'WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 ' +
  'ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag';

/** The primary answers `SELECT 1` within `timeoutMs`. */
export async function checkPgPrimary(guard: PgConnectionGuard, timeoutMs: number): Promise<ServerCheck> {
  const startedAt = performance.now();
  try {
    await guard.housekeepingQuery('SELECT 1', undefined, { boundMs: timeoutMs });
    return { up: true, latencyMs: elapsed(startedAt) };
  } catch (error) {
    return { up: false, latencyMs: elapsed(startedAt), error };
  }
}

/** Each standby (TypeORM replication): alive, and how far behind. */
export function checkPgReplicas(guard: PgConnectionGuard, timeoutMs: number): Promise<ReplicaCheck[]> {
  return Promise.all(
    guard.replicaPools().map(async ({ node, pool }) => {
      const startedAt = performance.now();
      try {
        const [row] = await guard.housekeepingQuery(STANDBY_LAG, undefined, { pool, boundMs: timeoutMs });
        const lag = row?.lag;
        return {
          node,
          up: true,
          latencyMs: elapsed(startedAt),
          lagSeconds: lag === null || lag === undefined ? null : Number(lag),
        };
      } catch {
        return { node, up: false, latencyMs: elapsed(startedAt), lagSeconds: null };
      }
    }),
  );
}

function elapsed(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 10) / 10;
}
