import type { DataSource } from 'typeorm';
import { housekeeping } from '../../context/unit-of-work';
import { ResilienceLogger } from '../../events/resilience-logger';
import { guardSettingsOf, type DatabaseEngine, type EngineGuard, type GuardDependencies } from '../database-engine';
import { GuardCore } from '../guard/guard-core';
import { IdempotencyMarkers } from './idempotency-markers';
import { parseLatestDeadlock } from './innodb-deadlock-parser';
import { MysqlAdapter, type Mysql2Pool } from './mysql-adapter';
import type { Mysql2Connection } from './mysql2-connection';
import { poolFiguresOf } from './pool-figures';

const GUARDED = Symbol('database-resilience.guarded');

/** The parts of TypeORM's MysqlDriver and mysql2's PoolCluster that taking over borrowing needs. */
interface ObtainingDriver {
  obtainMasterConnection(): Promise<Mysql2Connection>;
  obtainSlaveConnection(): Promise<Mysql2Connection>;
  poolCluster?: {
    on(event: 'remove', listener: (nodeId: string) => void): void;
    add(id: string, config: unknown): void;
  };
  options: { replication?: { master?: unknown; slaves?: unknown[] } };
  createConnectionOptions(options: unknown, credentials: unknown): unknown;
  [GUARDED]?: boolean;
}

/** MySQL and MariaDB through TypeORM's mysql driver (mysql2). */
export const mysqlEngine: DatabaseEngine = {
  name: 'MySQL/MariaDB (mysql2)',

  supports(dataSource: DataSource): boolean {
    const type = String(dataSource.options?.type);
    return type === 'mysql' || type === 'mariadb';
  },

  guard(dataSource: DataSource, database: string, { options, classifier, breaker, events }: GuardDependencies) {
    const core = new GuardCore<Mysql2Connection, Mysql2Pool>(
      database,
      guardSettingsOf(options),
      new MysqlAdapter(dataSource),
      classifier,
      breaker,
      events,
    );
    install(dataSource, database, core, options.failover.replicaRetryMs);
    const engineGuard: EngineGuard = {
      markers: new IdempotencyMarkers(
        core.housekeeping,
        options.idempotency.table,
        options.idempotency.settleTimeoutMs,
      ),
      probe: () => core.housekeeping.probe(),
      dispose: () => core.dispose(),
      checkPrimary: (timeoutMs) => core.housekeeping.checkPrimary(timeoutMs),
      checkReplicas: (timeoutMs) => core.lag.check(timeoutMs),
      replicaRoutes: () => core.lag.routes(),
      poolFigures: () => poolFiguresOf(dataSource.driver),
      concurrencyLimit: () => core.concurrencyLimitState(),
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

/** Puts the core between TypeORM and mysql2's pools: TypeORM's query runners borrow through it. */
function install(
  dataSource: DataSource,
  database: string,
  core: GuardCore<Mysql2Connection, Mysql2Pool>,
  retryMs: number,
) {
  const driver = dataSource.driver as unknown as ObtainingDriver;
  if (typeof driver.obtainMasterConnection !== 'function') {
    new ResilienceLogger().warn(
      `DataSource "${database}" is not built as a TypeORM mysql DataSource; it is not guarded`,
      {
        event: 'data-source-not-guarded',
        database,
      },
    );
    return;
  }
  if (driver[GUARDED]) return;
  driver[GUARDED] = true;
  driver.obtainMasterConnection = () => core.borrowPrimary();
  const cluster = driver.poolCluster;
  if (!cluster) {
    driver.obtainSlaveConnection = () => core.borrowPrimary();
    return;
  }
  driver.obtainSlaveConnection = () => core.borrowReplica();
  // mysql2's PoolCluster removes a node for good after a few connect errors (the primary too): put it back after
  // `failover.replicaRetryMs`, so that the service heals without a restart.
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
      } catch {
        new ResilienceLogger().warn(`Could not put node ${nodeId} of "${database}" back`, {
          event: 'node-not-restored',
          database,
        });
      }
    }, retryMs).unref();
  });
}
