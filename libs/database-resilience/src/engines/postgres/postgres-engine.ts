import type { DataSource } from 'typeorm';
import { ResilienceLogger } from '../../events/resilience-logger';
import {
  guardSettingsOf,
  type DatabaseEngine,
  type EngineGuard,
  type GuardDependencies,
  type PoolFigures,
} from '../database-engine';
import { GuardCore } from '../guard/guard-core';
import { PgAdapter } from './pg-adapter';
import type { PgClient, PgDriver, PgPool } from './pg-client';
import { PgCommitMarkers } from './pg-commit-markers';
import { PgDeadlocks } from './pg-deadlocks';

const GUARDED = Symbol('database-resilience.guarded');

/** PostgreSQL through TypeORM's postgres driver (node-postgres, `pg`). */
export const postgresEngine: DatabaseEngine = {
  name: 'PostgreSQL (pg)',

  supports(dataSource: DataSource): boolean {
    return String(dataSource.options?.type) === 'postgres';
  },

  guard(dataSource: DataSource, database: string, { options, classifier, breaker, events }: GuardDependencies) {
    const driver = dataSource.driver as unknown as PgDriver & { [GUARDED]?: boolean };
    // The other sessions of a deadlock are read at most this often (`deadlocks.serverReportMinIntervalMs`).
    const reportEveryMs = options.deadlocks.serverReport ? options.deadlocks.serverReportMinIntervalMs : null;
    let deadlocks: PgDeadlocks | undefined;
    const adapter = new PgAdapter(driver, (error, sql, pid) => deadlocks?.capture(error, sql, pid));
    const core = new GuardCore<PgClient, PgPool>(
      database,
      guardSettingsOf(options),
      adapter,
      classifier,
      breaker,
      events,
    );
    const server = core.housekeeping;
    if (reportEveryMs !== null)
      deadlocks = new PgDeadlocks((sql, parameters) => server.query(sql, parameters), reportEveryMs);
    if (typeof driver.obtainMasterConnection !== 'function' || !Array.isArray(driver.slaves)) {
      new ResilienceLogger().warn(
        `DataSource "${database}" is not built as a TypeORM postgres DataSource; it is not guarded`,
        {
          event: 'data-source-not-guarded',
          database,
        },
      );
    } else if (!driver[GUARDED]) {
      driver[GUARDED] = true;
      // TypeORM's PostgresQueryRunner takes [client, release]; release(error) destroys the client.
      const lent = (client: PgClient) => [client, (destroy?: unknown) => core.giveBack(client, Boolean(destroy))];
      driver.obtainMasterConnection = () => core.borrowPrimary().then(lent) as never;
      driver.obtainSlaveConnection = () =>
        (driver.slaves.length === 0 ? core.borrowPrimary() : core.borrowReplica()).then(lent) as never;
    }
    const engineGuard: EngineGuard = {
      markers: new PgCommitMarkers(server, options.idempotency.table, options.idempotency.settleTimeoutMs),
      probe: () => server.probe(),
      dispose: () => core.dispose(),
      checkPrimary: (timeoutMs) => server.checkPrimary(timeoutMs),
      checkReplicas: (timeoutMs) => core.lag.check(timeoutMs),
      replicaRoutes: () => core.lag.routes(),
      poolFigures: () => pgPoolFigures(driver),
      concurrencyLimit: () => core.concurrencyLimitState(),
      latestDeadlock: async () => deadlocks?.latestDeadlock(),
      deadlockCounter: async () => {
        const [row] = await server.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()');
        return row ? Number(row.deadlocks) : undefined;
      },
    };
    return engineGuard;
  },
};

function pgPoolFigures(driver: PgDriver): PoolFigures | undefined {
  const pool = driver.master;
  if (!pool || typeof pool.totalCount !== 'number') return undefined;
  const total = pool.totalCount;
  const idle = pool.idleCount ?? 0;
  return { total, idle, inUse: total - idle, waiting: pool.waitingCount ?? 0, limit: pool.options?.max ?? 10 };
}
