import { DatabaseHealthService, PoolMonitor } from 'nestjs-database-resilience';
import { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';
import { PostgresInstance } from '../../apps/cli/src/support/postgres-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { requestContext } from '../../libs/database-resilience/src/context/request-context';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

/** A primary and a replica of the test's own, and a way to hold the replica behind. */
interface ReplicatedPair {
  primaryPort: number;
  replicaPort: number;
  app(options: Parameters<typeof resilientApp>[0]['options']): Promise<ResilientApp>;
  /** A statement whose one row's `port` is the port of the server that ran it. */
  whichServer: string;
  /** `INSERT INTO item VALUES (id)` with the driver's placeholder. */
  insert: string;
  /** A write on the primary, past the app. */
  write(id: number): Promise<void>;
  /** The replica stops applying what it receives (and falls behind from the next write). */
  holdBack(): Promise<void>;
  /** It applies again, and catches up. */
  release(): Promise<void>;
  destroy(): Promise<void>;
}

async function mariadbPair(): Promise<ReplicatedPair> {
  const primary = await MariaDbInstance.create(1);
  const admin = await primary.connect('test');
  await admin.query('CREATE TABLE item (id INT PRIMARY KEY)');
  const replica = await primary.replica();
  const replicaAdmin = await replica.connect('test');
  await waitUntil(async () => {
    const [rows] = await replicaAdmin.query("SHOW TABLES LIKE 'item'");
    return (rows as unknown[]).length === 1;
  }, 'the table on the replica');
  return {
    primaryPort: primary.port,
    replicaPort: replica.port,
    app: (options) => resilientApp({ database: 'test', port: primary.port, replicaPort: replica.port, options }),
    whichServer: 'SELECT @@port AS port',
    insert: 'INSERT INTO item VALUES (?)',
    write: async (id) => void (await admin.query('INSERT INTO item VALUES (?)', [id])),
    // A stopped SQL thread: the replica does not replicate (its lag is unknown: NULL), and is left out.
    holdBack: async () => void (await replicaAdmin.query('STOP SLAVE SQL_THREAD')),
    release: async () => void (await replicaAdmin.query('START SLAVE SQL_THREAD')),
    destroy: async () => {
      await admin.end().catch(() => undefined);
      await replicaAdmin.end().catch(() => undefined);
      await replica.destroy();
      await primary.destroy();
    },
  };
}

async function postgresPair(): Promise<ReplicatedPair> {
  const primary = await PostgresInstance.create();
  const admin = await primary.connect();
  await admin.query('CREATE TABLE item (id INT PRIMARY KEY)');
  const standby = await primary.standby();
  const standbyAdmin = await standby.connect();
  return {
    primaryPort: primary.port,
    replicaPort: standby.port,
    app: (options) =>
      resilientApp({
        database: 'test',
        port: primary.port,
        postgres: { schema: 'public', replicaPort: standby.port },
        options,
      }),
    whichServer: "SELECT current_setting('port')::int AS port",
    insert: 'INSERT INTO item VALUES ($1)',
    write: async (id) => void (await admin.query('INSERT INTO item VALUES ($1)', [id])),
    // A paused standby: it receives WAL and replays none, its lag grows from the next write.
    holdBack: async () => void (await standbyAdmin.query('SELECT pg_wal_replay_pause()')),
    release: async () => void (await standbyAdmin.query('SELECT pg_wal_replay_resume()')),
    destroy: async () => {
      await admin.end().catch(() => undefined);
      await standbyAdmin.end().catch(() => undefined);
      await standby.destroy();
      await primary.destroy();
    },
  };
}

const PAIRS: ReadonlyArray<[string, () => Promise<ReplicatedPair>]> = [
  ['MariaDB', mariadbPair],
  ['PostgreSQL', postgresPair],
];

/**
 * Reads that follow the replicas' lag, on real replication: a replica held behind past `failover.maxLagMs` gets
 * no reads until it catches up (said in the health report and the metrics' source), and a request that wrote
 * reads its own write from the primary while the replica has not applied it.
 */
describe.each(PAIRS)('%s: reads follow replica lag', (_name, makePair) => {
  let pair: ReplicatedPair;
  let app: ResilientApp;
  let nextId = 1;

  beforeAll(async () => {
    pair = await makePair();
    app = await pair.app({
      failover: { maxLagMs: 1_000, lagCheckIntervalMs: 100, readYourWritesMs: 5_000 },
      healthCheck: { enabled: false },
      alerts: { log: false },
    });
  }, 120_000);

  afterAll(async () => {
    await pair?.release().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await pair?.destroy();
  });

  /** A read as TypeORM sends it to its replicas (`createQueryRunner('slave')`). */
  const onReplicaSide = async (sql: string) => {
    const runner = app.dataSource.createQueryRunner('slave');
    try {
      return (await runner.query(sql)) as Array<Record<string, unknown>>;
    } finally {
      await runner.release();
    }
  };
  /** The port of the server a read went to. */
  const readFrom = async () => Number((await onReplicaSide(pair.whichServer))[0].port);
  const route = () => app.module.get(PoolMonitor).replicaRoutes()[0];
  const inRequest = <T>(work: () => Promise<T>) => requestContext.run({ requestId: 'r', route: 'GET /t' }, work);

  it('a replica held behind past maxLagMs gets no reads until it catches up', async () => {
    await waitUntil(async () => (await readFrom()) === pair.replicaPort, 'reads on the replica');
    await pair.holdBack();
    await pair.write(nextId++);
    await waitUntil(async () => route()?.routable === false, 'the replica left out', 15_000);
    const reads = await Promise.all(Array.from({ length: 10 }, readFrom));
    expect(reads).toEqual(Array(10).fill(pair.primaryPort));
    const [report] = await app.module.get(DatabaseHealthService).check();
    expect(report.replicas).toEqual([expect.objectContaining({ up: true, routable: false })]);

    await pair.release();
    await waitUntil(async () => route()?.routable === true, 'the replica back', 15_000);
    await waitUntil(async () => (await readFrom()) === pair.replicaPort, 'reads on the replica again');
  }, 60_000);

  it('a request that wrote reads its own write from the primary; another request reads from the replica', async () => {
    await waitUntil(async () => (await readFrom()) === pair.replicaPort, 'reads on the replica');
    const id = nextId++;
    const { sawItsWrite, readOn } = await inRequest(async () => {
      await app.dataSource.query(pair.insert, [id]);
      return { sawItsWrite: await onReplicaSide(`SELECT id FROM item WHERE id = ${id}`), readOn: await readFrom() };
    });
    expect(sawItsWrite).toHaveLength(1);
    expect(readOn).toBe(pair.primaryPort);
    expect(await inRequest(readFrom)).toBe(pair.replicaPort); // a request that did not write
  }, 30_000);
});
