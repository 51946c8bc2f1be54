import { Client } from 'pg';
import {
  CommitOutcomeUnknownError,
  DeadlockAnalyticsService,
  ErrorCategory,
  type DeadlockReport,
  resilienceDetailsOf,
  DatabaseHealthService,
} from 'nestjs-database-resilience';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

/**
 * The PostgreSQL engine against the local PostgreSQL 15, through a Nest app as a user wires it: whole-transaction
 * retries of deadlocks and serialization failures, 25P02 never retried, the traps of the facts file (a COMMIT
 * answered ROLLBACK, a timed-out transaction never committed by the next borrower, a COMMIT cut after it was sent
 * settled by the transaction's id or by a key), and the health check on a pg pool.
 */
describe('the PostgreSQL engine (TypeORM + pg, real server)', () => {
  const schema = `dr_pge_${process.pid}`;
  let admin: Client;
  let app: ResilientApp;

  const balances = async () =>
    (await admin.query(`SELECT id, balance FROM ${schema}.account ORDER BY id`)).rows.map((r) => r.balance as number);
  const failure = async (work: () => Promise<unknown>) =>
    work().then(
      () => {
        throw new Error('expected a failure');
      },
      (error: unknown) => error,
    );

  beforeAll(async () => {
    admin = new Client(PG);
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.account (id INT PRIMARY KEY, balance INT NOT NULL)`);
    await admin.query(`CREATE TABLE ${schema}.note (id SERIAL PRIMARY KEY, body TEXT NOT NULL UNIQUE)`);
    app = await resilientApp({
      database: PG.database,
      poolSize: 4,
      postgres: { schema, extra: { options: `-c search_path=${schema} -c deadlock_timeout=50ms` } },
      options: { retry: { baseDelayMs: 5, maxDelayMs: 50 }, alerts: { log: false } },
    });
  });

  beforeEach(async () => {
    await admin.query(`TRUNCATE ${schema}.account, ${schema}.note`);
    await admin.query(`INSERT INTO ${schema}.account VALUES (1, 100), (2, 100)`);
    app.events.length = 0;
  });

  afterAll(async () => {
    await app?.close();
    await admin?.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await admin?.end();
  });

  it('is guarded: the health check asks the pg pool, the pool figures come from pg-pool', async () => {
    const [report] = await app.module.get(DatabaseHealthService).check();
    expect(report).toMatchObject({ database: 'default', status: 'up' });
  });

  it('a real deadlock (40P01) between two transactions: the victim re-runs whole, both transfers applied once', async () => {
    let barrier!: () => void;
    const bothLocked = new Promise<void>((resolve) => {
      let count = 0;
      barrier = () => void (++count === 2 && resolve());
    });
    const transfer = (from: number, to: number, operation: string) =>
      app.resilience.transaction(
        async (manager) => {
          await manager.query('UPDATE account SET balance = balance - 10 WHERE id = $1', [from]);
          barrier();
          await bothLocked;
          await manager.query('UPDATE account SET balance = balance + 10 WHERE id = $1', [to]);
          // The survivor goes on to read a system catalog while the account is read: not one of the cycle's tables.
          await manager.query('SELECT count(*) FROM pg_database, pg_sleep(0.3)');
        },
        { operation },
      );
    await Promise.all([transfer(1, 2, 'a-to-b'), transfer(2, 1, 'b-to-a')]);
    expect(await balances()).toEqual([100, 100]);
    const failed = app.events.filter((e) => e.type === 'attempt-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ willRetry: true, error: { category: 'deadlock', sqlState: '40P01' } });

    // The analytics: the victim's statement, the table pair, and the account read from the error and the other
    // session while it was still open (PostgreSQL keeps no report of its own).
    const analytics = app.module.get(DeadlockAnalyticsService);
    let report!: DeadlockReport;
    await waitUntil(
      async () => ([report] = await analytics.report('default')) && report.latest !== null,
      'the account',
    );
    expect(report.topTablePairs).toEqual([{ tables: 'account ↔ account', deadlocks: 1 }]);
    expect(report.topStatements).toEqual([
      { fingerprint: 'UPDATE account SET balance = balance + ? WHERE id = $1', deadlocks: 1 },
    ]);
    const { transactions, victim } = report.latest!;
    expect(transactions).toHaveLength(2);
    expect(transactions.find((t) => t.number === victim)).toMatchObject({
      victim: true,
      statement: 'UPDATE account SET balance = balance + ? WHERE id = $1',
      tables: ['account'],
      waitsFor: [expect.objectContaining({ mode: 'ShareLock', kind: 'record', table: 'account' })],
    });
    const survivor = transactions.find((t) => !t.victim)!;
    expect(survivor.tables).toEqual(['account']);
    // Its statement, while it is still in its transaction (the one of the cycle, or the next one); empty once it
    // has committed.
    expect(survivor.statement).toMatch(
      /^(UPDATE account SET balance = balance [-+] \? WHERE id = \$1|SELECT count\(\*\) FROM pg_database, pg_sleep\(\?\)|COMMIT|)$/,
    );
    await waitUntil(
      async () => ((await analytics.report('default'))[0].serverDeadlocks ?? 0) >= 1,
      'the server counter',
    );
  });

  it('a serialization failure (40001, REPEATABLE READ) re-runs the whole transaction', async () => {
    let runs = 0;
    await app.resilience.transaction(
      async (manager) => {
        runs++;
        await manager.query('SELECT balance FROM account WHERE id = 1'); // the snapshot is taken here
        if (runs === 1) await admin.query(`UPDATE ${schema}.account SET balance = balance + 1 WHERE id = 1`);
        await manager.query('UPDATE account SET balance = balance + 5 WHERE id = 1');
      },
      { isolationLevel: 'REPEATABLE READ', operation: 'serial' },
    );
    expect({ runs, balances: await balances() }).toEqual({ runs: 2, balances: [106, 100] });
  });

  it('25P02 is never retried, and is reported as the failure that aborted the transaction', async () => {
    await admin.query(`INSERT INTO ${schema}.note (body) VALUES ('taken')`);
    let runs = 0;
    const error = await failure(() =>
      app.resilience.transaction(
        async (manager) => {
          runs++;
          await manager.query("INSERT INTO note (body) VALUES ('taken')").catch(() => undefined); // swallowed
          await manager.query('UPDATE account SET balance = 0 WHERE id = 1'); // 25P02
        },
        { operation: 'aborted', retry: { maxAttempts: 5 } },
      ),
    );
    expect(error).toMatchObject({ code: '25P02' });
    expect(runs).toBe(1);
    const [failed] = app.events.filter((e) => e.type === 'attempt-failed');
    expect(failed).toMatchObject({ error: { category: 'integrity', sqlState: '23505' }, willRetry: false });
    expect(await balances()).toEqual([100, 100]);
  });

  it('a COMMIT the server answers ROLLBACK (an error was swallowed) fails the unit: nothing was written', async () => {
    const viaModule = await failure(() =>
      app.resilience.transaction(async (manager) => {
        await manager.query('UPDATE account SET balance = 1 WHERE id = 1');
        await manager.query('SELECT * FROM no_such_table').catch(() => undefined); // aborted, swallowed
      }),
    );
    // TypeORM wraps what the guarded client throws: a QueryFailedError whose driverError is the module's.
    expect(viaModule).toMatchObject({
      code: 'TRANSACTION_ROLLED_BACK',
      driverError: { name: 'TransactionRolledBackError' },
    });
    expect((viaModule as Error).message).toContain('PG_UNDEFINED_TABLE');
    // TypeORM's own transaction() on the guarded DataSource: the same (it used to resolve).
    const viaTypeOrm = await failure(() =>
      app.dataSource.transaction(async (manager) => {
        await manager.query('UPDATE account SET balance = 2 WHERE id = 2');
        await manager.query('SELECT * FROM no_such_table').catch(() => undefined);
      }),
    );
    expect(viaTypeOrm).toMatchObject({ code: 'TRANSACTION_ROLLED_BACK' });
    expect(await balances()).toEqual([100, 100]);
  });

  it('a transaction past its deadline is stopped on the server and never committed by the next borrower', async () => {
    const small = await resilientApp({ database: PG.database, poolSize: 1, postgres: { schema } });
    try {
      const error = await failure(() =>
        small.resilience.transaction(
          async (manager) => {
            await manager.query('UPDATE account SET balance = balance + 100 WHERE id = 1');
            await manager.query('SELECT pg_sleep(5)');
          },
          { deadlineMs: 400 },
        ),
      );
      // The server's own limit (SET LOCAL statement_timeout, a little before the deadline) or the client's.
      expect(resilienceDetailsOf(error)?.classified.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
      // The one pooled client is the next borrower: its COMMIT must not carry the "failed" UPDATE.
      await small.resilience.transaction((manager) =>
        manager.query('UPDATE account SET balance = balance + 1 WHERE id = 2'),
      );
      expect(await balances()).toEqual([100, 101]);
      // The server stopped the statement (SET LOCAL statement_timeout), or the guard ended its session.
      await waitUntil(
        async () =>
          (
            await admin.query(
              "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%' AND state = 'active'",
            )
          ).rowCount === 0,
        'the sleeping statement to be gone from the server',
        3_000,
      );
    } finally {
      await small.close();
    }
  });

  it("pg's own query_timeout (client side only): the session is ended, the next borrower's COMMIT commits nothing of it", async () => {
    const small = await resilientApp({
      database: PG.database,
      poolSize: 1,
      postgres: { schema, extra: { query_timeout: 300 } },
    });
    try {
      const error = await failure(() =>
        small.dataSource.transaction(async (manager) => {
          await manager.query('UPDATE account SET balance = balance + 100 WHERE id = 1');
          await manager.query('SELECT pg_sleep(3)');
        }),
      );
      expect(String((error as Error).message)).toContain('Query read timeout');
      await small.dataSource.transaction((manager) =>
        manager.query('UPDATE account SET balance = balance + 1 WHERE id = 2'),
      );
      expect(await balances()).toEqual([100, 101]);
    } finally {
      await small.close();
    }
  });

  describe('a COMMIT cut after it reached the server (PostgreSQL wire protocol proxy)', () => {
    let proxy: FaultProxy;
    let proxied: ResilientApp;

    beforeAll(async () => {
      proxy = await new FaultProxy(PG.host, PG.port, 'postgres').start();
      proxied = await resilientApp({ database: PG.database, port: proxy.port, postgres: { schema } });
    });

    afterAll(async () => {
      await proxied?.close();
      await proxy?.stop();
    });

    it('without a key, settled by the transaction id (pg_xact_status): success, the row written once', async () => {
      proxy.cutAfterNextCommit();
      await proxied.resilience.transaction((manager) => manager.query("INSERT INTO note (body) VALUES ('cut-1')"));
      expect(proxy.faultsInjected).toBe(1);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.note WHERE body = 'cut-1'`)).rows[0].n).toBe(
        1,
      );
      expect(proxied.events).toContainEqual(expect.objectContaining({ type: 'commit-settled', committed: true }));
    });

    it('a COMMIT that never arrived settles as not applied: re-run once, the row written once', async () => {
      proxy.dropNextCommit();
      let runs = 0;
      await proxied.resilience.transaction(async (manager) => {
        runs++;
        await manager.query("INSERT INTO note (body) VALUES ('drop-1')");
      });
      expect(runs).toBe(2);
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.note WHERE body = 'drop-1'`)).rows[0].n).toBe(
        1,
      );
    });

    it('with an idempotency key, settled too', async () => {
      proxy.cutAfterNextCommit();
      await proxied.resilience.transaction((manager) => manager.query("INSERT INTO note (body) VALUES ('cut-2')"), {
        idempotencyKey: `note-cut-2-${process.pid}`,
      });
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.note WHERE body = 'cut-2'`)).rows[0].n).toBe(
        1,
      );
    });

    it("TypeORM's own transaction() cut after COMMIT: CommitOutcomeUnknownError through the retry runner, never re-run", async () => {
      proxy.cutAfterNextCommit();
      let runs = 0;
      const error = await failure(() =>
        proxied.resilience.execute(
          () =>
            proxied.dataSource.transaction(async (manager) => {
              runs++;
              await manager.query("INSERT INTO note (body) VALUES ('cut-3')");
            }),
          { retry: true },
        ),
      );
      expect(error).toBeInstanceOf(CommitOutcomeUnknownError);
      expect(runs).toBe(1);
      // The server commits what it read before the cut, a moment after the client saw the socket go.
      const count = async () =>
        (await admin.query(`SELECT count(*)::int AS n FROM ${schema}.note WHERE body = 'cut-3'`)).rows[0].n as number;
      await waitUntil(async () => (await count()) === 1, 'the cut COMMIT to be applied, once');
    });
  });
});
