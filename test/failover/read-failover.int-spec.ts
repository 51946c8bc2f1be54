import { Test, type TestingModule } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { Column, Entity, PrimaryColumn, type DataSource } from 'typeorm';
import {
  CircuitBreakerRegistry,
  CircuitOpenError,
  DatabaseResilienceModule,
  ResilienceService,
} from 'nestjs-database-resilience';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { useScratchDatabase } from '../support/scratch-database';

@Entity('item')
class Item {
  @PrimaryColumn()
  id: number;

  @Column()
  source: string;
}

/**
 * Read failover with TypeORM replication. The primary is a MariaDB server of the test's own; the replica is a
 * copy of the schema in a scratch database of the shared server, reached through a fault proxy (not real
 * replication: each side says where a read came from).
 */
describe('read failover (TypeORM replication: own primary, replica behind a fault proxy)', () => {
  let primary: MariaDbInstance;
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let proxy: FaultProxy;
  let module: TestingModule;
  let dataSource: DataSource;
  let resilience: ResilienceService;

  beforeAll(async () => {
    primary = await MariaDbInstance.create();
    scratch = await useScratchDatabase('dr_it_replica');
    const seed = async (connection: { query(sql: string, params?: unknown[]): Promise<unknown> }, source: string) => {
      await connection.query('CREATE TABLE item (id INT PRIMARY KEY, source VARCHAR(20) NOT NULL)');
      await connection.query('INSERT INTO item VALUES (1, ?)', [source]);
    };
    const onPrimary = await primary.connect('test');
    await seed(onPrimary, 'primary');
    await onPrimary.end();
    const onReplica = await scratch.connect();
    await seed(onReplica, 'replica');
    await onReplica.end();
    proxy = await new FaultProxy('127.0.0.1', 3306).start();
    module = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          entities: [Item],
          retryAttempts: 0,
          replication: {
            master: { host: '127.0.0.1', port: primary.port, username: 'root', password: '', database: 'test' },
            slaves: [
              { host: '127.0.0.1', port: proxy.port, username: 'root', password: '', database: scratch.database },
            ],
          },
        }),
        DatabaseResilienceModule.forRoot({
          circuitBreaker: { failureThreshold: 3, recoveryTimeoutMs: 60_000 },
          failover: { replicaRetryMs: 300 },
          alerts: { log: false },
        }),
      ],
    }).compile();
    await module.init();
    dataSource = module.get<DataSource>(getDataSourceToken());
    resilience = module.get(ResilienceService);
  }, 120_000);

  afterAll(async () => {
    await module?.close();
    await proxy?.stop();
    await primary?.destroy();
    await scratch?.restoreEnv();
  });

  const readSource = async () => (await dataSource.getRepository(Item).findOneByOrFail({ id: 1 })).source;
  /** A read as an app would guard it: a read that lost its connection is safe to run again. */
  const guardedRead = () => resilience.execute(readSource, { readOnly: true, retry: true });

  it('reads from the replica, writes to the primary', async () => {
    expect(await readSource()).toBe('replica');
    const [{ port }] = await dataSource.query('SELECT @@port AS port');
    expect(Number(port)).toBe(primary.port);
  });

  it('with the primary down and its breaker open: reads go on from the replica, writes fail fast', async () => {
    await primary.stop();
    for (let i = 0; i < 3; i++)
      await resilience.execute(() => dataSource.query('UPDATE item SET source = source')).catch(() => undefined);
    expect(module.get(CircuitBreakerRegistry).get('default').state).toBe('open');
    await expect(resilience.execute(() => dataSource.query('UPDATE item SET source = source'))).rejects.toBeInstanceOf(
      CircuitOpenError,
    );
    await expect(resilience.execute(() => readSource(), { readOnly: true })).resolves.toBe('replica');
    expect(await readSource()).toBe('replica');
  }, 60_000);

  it('with every replica down: reads go to the primary; the replica is put back by itself', async () => {
    await primary.start();
    module.get(CircuitBreakerRegistry).reset('default');
    // mysql2 removed the primary from its cluster when it went down; the module puts it back after replicaRetryMs
    await waitUntil(
      () =>
        dataSource.query('SELECT 1').then(
          () => true,
          () => false,
        ),
      'the primary to be back in the pool',
      10_000,
    );
    proxy.refuse(true);
    proxy.closeOpenConnections();
    for (let i = 0; i < 8; i++) expect(await guardedRead()).toBe('primary');
    proxy.refuse(false);
    await waitUntil(async () => (await guardedRead()) === 'replica', 'reads to return to the replica', 10_000);
  }, 60_000);
});
