import type { DataSource } from 'typeorm';
import {
  guardSettingsOf,
  type DatabaseEngine,
  type EngineGuard,
  type GuardDependencies,
  type PoolFigures,
} from '../database-engine';
import type { PgDriver } from './pg-client';
import { PgCommitMarkers } from './pg-commit-markers';
import { PgConnectionGuard } from './pg-connection-guard';
import { checkPgPrimary, checkPgReplicas } from './pg-server-check';

/** PostgreSQL through TypeORM's postgres driver (node-postgres, `pg`). */
export const postgresEngine: DatabaseEngine = {
  name: 'PostgreSQL (pg)',

  supports(dataSource: DataSource): boolean {
    return String(dataSource.options?.type) === 'postgres';
  },

  guard(dataSource: DataSource, database: string, { options, classifier, breaker, events }: GuardDependencies) {
    const guard = new PgConnectionGuard(
      dataSource,
      database,
      guardSettingsOf(options),
      classifier,
      breaker,
      events,
      options.deadlocks.innodbStatus ? options.deadlocks.innodbStatusMinIntervalMs : null,
    );
    guard.install();
    const engineGuard: EngineGuard = {
      markers: new PgCommitMarkers(guard, options.idempotency.table, options.idempotency.settleTimeoutMs),
      probe: () => guard.probe(),
      dispose: () => guard.dispose(),
      checkPrimary: (timeoutMs) => checkPgPrimary(guard, timeoutMs),
      checkReplicas: (timeoutMs) => checkPgReplicas(guard, timeoutMs),
      poolFigures: () => pgPoolFigures(dataSource.driver as unknown as PgDriver),
      concurrencyLimit: () => guard.concurrencyLimitState(),
      latestDeadlock: () => guard.deadlocks.latestDeadlock(),
      deadlockCounter: async () => {
        const [row] = await guard.housekeepingQuery(
          'SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()',
        );
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
