import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule, DatabaseHealthService, replicaTolerantDataSource } from 'nestjs-database-resilience';
import { DataSource } from 'typeorm';
import type { Client } from 'pg';
import { PostgresInstance } from '../../apps/cli/src/support/postgres-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

/**
 * Real streaming replication: a primary of the test's own and a standby made from it with `pg_basebackup -R`,
 * behind TypeORM's postgres replication. The health check reports the standby's lag; reads go to the standby,
 * fall back to the primary while it is down (TypeORM alone fails every read then), and return to it after.
 */
describe('PostgreSQL streaming replication (own primary and standby)', () => {
  let primary: PostgresInstance;
  let standby: PostgresInstance;
  let app: ResilientApp;
  let writer: Client;

  beforeAll(async () => {
    primary = await PostgresInstance.create();
    standby = await primary.standby();
    writer = await primary.connect();
    await writer.query('CREATE TABLE item (id INT PRIMARY KEY)');
    app = await resilientApp({
      database: 'test',
      port: primary.port,
      postgres: { schema: 'public', replicaPort: standby.port },
      options: { failover: { replicaRetryMs: 300 }, healthCheck: { enabled: false }, alerts: { log: false } },
    });
  }, 120_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await writer?.end().catch(() => undefined);
    await standby?.destroy();
    await primary?.destroy();
  });

  /** Where a read went: true on the standby (it is in recovery). */
  const readServedByStandby = async () => {
    const runner = app.dataSource.createQueryRunner('slave');
    try {
      const [row] = await runner.query('SELECT pg_is_in_recovery() AS standby');
      return row.standby as boolean;
    } finally {
      await runner.release();
    }
  };

  it('reports the standby up with its lag, and serves reads from it', async () => {
    await writer.query('INSERT INTO item VALUES (1)');
    const [report] = await app.module.get(DatabaseHealthService).check();
    expect(report.status).toBe('up');
    expect(report.replicas).toEqual([expect.objectContaining({ node: 'replica-1', up: true })]);
    expect(typeof report.replicas[0].lagSeconds).toBe('number');
    expect(await readServedByStandby()).toBe(true);
    await waitUntil(
      async () =>
        (await app.dataSource.createQueryBuilder().select('count(*)::int', 'n').from('item', 'i').getRawOne()).n === 1,
      'the row replicated',
    );
  });

  it('while the standby is down reads fall back to the primary, and return to the standby after it is back', async () => {
    await standby.stop();
    // 20 reads, through the module: a pooled standby client that died with it fails its read once (a lost
    // connection, retried), and the standby rests; every read is answered, by the primary.
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => app.resilience.execute(readServedByStandby, { retry: true })),
    );
    expect(reads.every((onStandby) => onStandby === false)).toBe(true);
    const [report] = await app.module.get(DatabaseHealthService).check();
    expect(report).toMatchObject({
      status: 'degraded',
      replicas: [expect.objectContaining({ up: false, lagSeconds: null })],
    });
    await standby.start();
    await waitUntil(readServedByStandby, 'reads on the standby again', 10_000);
  });

  it('with replicaTolerantDataSource, the app starts while the standby is down, reads from the primary, then from the standby once it is back', async () => {
    await standby.stop();
    const server = (port: number) => ({ host: '127.0.0.1', port, username: 'postgres', database: 'test' });
    const module = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => ({
            type: 'postgres',
            replication: { master: server(primary.port), slaves: [server(standby.port)] },
            retryAttempts: 0,
          }),
          dataSourceFactory: replicaTolerantDataSource,
        }),
        DatabaseResilienceModule.forRoot({ failover: { replicaRetryMs: 200 }, healthCheck: { enabled: false } }),
      ],
    })
      .setLogger(false as never)
      .compile();
    await module.init();
    try {
      const dataSource = module.get(DataSource);
      const onStandby = async () => {
        const runner = dataSource.createQueryRunner('slave');
        try {
          return (await runner.query('SELECT pg_is_in_recovery() AS standby'))[0].standby as boolean;
        } finally {
          await runner.release();
        }
      };
      expect(await onStandby()).toBe(false);
      await standby.start();
      await waitUntil(onStandby, 'reads on the standby', 10_000);
    } finally {
      await module.close();
    }
  });
});
