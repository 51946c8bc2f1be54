import type { DataSource } from 'typeorm';
import { housekeeping } from '../../context/unit-of-work';
import { guardSettingsOf, type DatabaseEngine, type EngineGuard, type GuardDependencies } from '../database-engine';
import { ConnectionGuard } from './connection-guard';
import { IdempotencyMarkers } from './idempotency-markers';
import { parseLatestDeadlock } from './innodb-deadlock-parser';
import { poolFiguresOf } from './pool-figures';
import { replicationLagOf, timedCheck } from './server-check';

/** MySQL and MariaDB through TypeORM's mysql driver (mysql2): the engine the module was built on. */
export const mysqlEngine: DatabaseEngine = {
  name: 'MySQL/MariaDB (mysql2)',

  supports(dataSource: DataSource): boolean {
    const type = String(dataSource.options?.type);
    return type === 'mysql' || type === 'mariadb';
  },

  guard(dataSource: DataSource, database: string, { options, classifier, breaker, events }: GuardDependencies) {
    const guard = new ConnectionGuard(dataSource, database, guardSettingsOf(options), classifier, breaker, events);
    guard.install();
    const markers = new IdempotencyMarkers(dataSource, options.idempotency.table, options.idempotency.settleTimeoutMs);
    const engineGuard: EngineGuard = {
      markers,
      probe: () => guard.probe(),
      dispose: () => guard.dispose(),
      checkPrimary: (timeoutMs) =>
        timedCheck(
          () => guard.obtainPrimary(),
          ['SELECT 1'],
          timeoutMs,
          () => undefined,
        ),
      checkReplicas: (timeoutMs) =>
        Promise.all(
          guard.replicaNodes().map(async ({ node, obtain }) => {
            const alive = await timedCheck(obtain, ['SELECT 1'], timeoutMs, () => undefined);
            const lag = alive.up
              ? await timedCheck(obtain, ['SHOW REPLICA STATUS'], timeoutMs, replicationLagOf)
              : undefined;
            return { node, up: alive.up, latencyMs: alive.latencyMs, lagSeconds: lag?.value ?? null };
          }),
        ),
      poolFigures: () => poolFiguresOf(dataSource.driver),
      concurrencyLimit: () => guard.concurrencyLimitState(),
      latestDeadlock: () =>
        housekeeping(async () => {
          const [row] = await dataSource.query('SHOW ENGINE INNODB STATUS');
          return row?.Status === undefined ? undefined : parseLatestDeadlock(String(row.Status));
        }),
      // MariaDB's Innodb_deadlocks, else MySQL's INNODB_METRICS lock_deadlocks.
      deadlockCounter: () =>
        housekeeping(async () => {
          const [status] = await dataSource.query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'");
          if (status) return Number(status.Value);
          const [metric] = await dataSource.query(
            "SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'lock_deadlocks'",
          );
          return metric ? Number(metric.n) : undefined;
        }),
    };
    return engineGuard;
  },
};
