import { Client } from 'pg';
import { ErrorClassifier } from 'nestjs-database-resilience';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { PgBouncerInstance } from '../../apps/cli/src/support/pgbouncer-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { moveMoney, runStorm, type WorkloadShape } from '../../apps/cli/src/scenarios/transfer-workload';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const SHAPE: WorkloadShape = { workers: 8, transfersPerWorker: 25, accounts: 4, openingBalance: 1000 };
const TIMEOUTS = 100;
const classifier = new ErrorClassifier();

/**
 * Behind Debian's PgBouncer in transaction pooling mode, on a database of the spec's own: a client's pid is
 * PgBouncer's key, not a server session's. A statement given up on is stopped through the protocol's cancel request
 * (which PgBouncer forwards), a lost COMMIT is settled by its transaction id, and nobody is terminated: a bystander
 * holding a transaction through the same PgBouncer keeps it across 100 timeouts and cut COMMITs.
 */
describe('PostgreSQL behind PgBouncer (transaction pooling)', () => {
  const database = `dr_pgb_${process.pid}`;
  let admin: Client;
  let bouncer: PgBouncerInstance;
  let proxy: FaultProxy;
  let app: ResilientApp;
  let proxied: ResilientApp;
  let bystander: Client;
  let bystanderPid: number;

  beforeAll(async () => {
    admin = new Client({ ...SERVER, database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.query(`CREATE DATABASE ${database}`);
    // The storm's deadlocks are found in 50 ms, not 1 s: a setting of this database only (PgBouncer passes no options).
    await admin.query(`ALTER DATABASE ${database} SET deadlock_timeout = '50ms'`);
    const setUp = new Client({ ...SERVER, database });
    await setUp.connect();
    await setUp.query('CREATE TABLE entry (id INT PRIMARY KEY, note TEXT)');
    await setUp.end();

    bouncer = await PgBouncerInstance.start(undefined, 6);
    proxy = await new FaultProxy('127.0.0.1', bouncer.port, 'postgres').start();
    // 100 statements that only sleep, and time out, leave the server silent meanwhile: a breaker would open (it is
    // not what this spec is about).
    const options = {
      healthCheck: { enabled: false },
      alerts: { log: false },
      circuitBreaker: { failureThreshold: 10_000, minimumCalls: 10_000 },
    };
    app = await resilientApp({ database, port: bouncer.port, postgres: { schema: 'public' }, options, poolSize: 10 });
    proxied = await resilientApp({ database, port: proxy.port, postgres: { schema: 'public' }, options, poolSize: 4 });

    // Another app's client, through the same PgBouncer, in the middle of a transaction all along.
    bystander = new Client({ host: '127.0.0.1', port: bouncer.port, user: 'postgres', database });
    bystander.on('error', () => undefined);
    await bystander.connect();
    await bystander.query('BEGIN');
    await bystander.query("INSERT INTO entry VALUES (-1, 'bystander')");
    bystanderPid = (await bystander.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  }, 60_000);

  afterAll(async () => {
    await bystander?.end().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await proxied?.close().catch(() => undefined);
    await proxy?.stop();
    await bouncer?.stop();
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin?.end().catch(() => undefined);
  });

  const running = async (marker: string) =>
    Number(
      (
        await admin.query(
          "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND query NOT LIKE '%pg_stat_activity%'",
          [`%${marker}%`],
        )
      ).rows[0].n,
    );

  it(`${TIMEOUTS} statements past their deadline: each stopped on the server by the cancel request, the bystander's transaction untouched`, async () => {
    const marker = `pgb_timeout_${process.pid}`;
    for (let round = 0; round < TIMEOUTS / 10; round++) {
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () =>
          app.resilience
            .execute(() => app.dataSource.query(`SELECT pg_sleep(5) /* ${marker} */`), { deadlineMs: 100 })
            .then(
              () => 'answered',
              (error: unknown) => error,
            ),
        ),
      );
      expect(outcomes.filter((outcome) => classifier.classify(outcome).name !== 'DEADLINE_EXCEEDED')).toEqual([]);
      // Gone from the server within a second: PgBouncer's server connections are free for the next round.
      await waitUntil(async () => (await running(marker)) === 0, 'the statements stopped on the server', 1_000);
    }
    expect((await bystander.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(bystanderPid);
  }, 60_000);

  it('a COMMIT cut after it was sent is settled by its transaction id, written once, and nobody is terminated', async () => {
    for (let id = 1; id <= 5; id++) {
      proxy.cutAfterNextCommit();
      await proxied.resilience.transaction(
        (manager) => manager.query('INSERT INTO entry VALUES ($1, $2)', [id, 'cut']),
        {
          operation: 'cut-commit',
        },
      );
    }
    expect(proxy.faultsInjected).toBe(5);
    const [{ n }] = await app.dataSource.query('SELECT COUNT(*)::int AS n FROM entry WHERE id BETWEEN 1 AND 5');
    expect(n).toBe(5);
    expect((await bystander.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(bystanderPid);
  }, 60_000);

  it('a deadlock storm through PgBouncer: every transfer applied once, the sum unchanged; the bystander commits', async () => {
    const result = await runStorm(app.dataSource, SHAPE, (t) =>
      app.resilience.transaction((manager) => moveMoney(manager, t), {
        retry: { maxAttempts: 30, baseDelayMs: 2, maxDelayMs: 100, budgetMs: 60_000 },
      }),
    );
    expect(result.failures).toEqual([]);
    expect(result.lost).toBe(0);
    expect(result.doubled).toBe(0);
    expect(result.balanceSum).toBe(result.expectedSum);

    expect((await bystander.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(bystanderPid);
    await bystander.query('COMMIT');
    const [{ n }] = await app.dataSource.query('SELECT COUNT(*)::int AS n FROM entry WHERE id = -1');
    expect(n).toBe(1);
  }, 120_000);
});
