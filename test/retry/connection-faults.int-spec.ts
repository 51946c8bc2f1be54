import {
  CommitOutcomeUnknownError,
  ErrorCategory,
  PoolAcquireTimeoutError,
  resilienceDetailsOf,
  type ResilienceEventOf,
} from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

const failedAttempts = (app: ResilientApp) =>
  app.events.filter((e): e is ResilienceEventOf<'attempt-failed'> => e.type === 'attempt-failed');

describe('lost connections, ambiguous commits and pool waits (real MariaDB)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let direct: ResilientApp;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_faults');
    direct = await resilientApp({ database: scratch.database });
    await direct.dataSource.query('CREATE TABLE ledger (id VARCHAR(40) PRIMARY KEY, thread_id BIGINT) ENGINE=InnoDB');
  });

  afterAll(async () => {
    await direct?.close();
    await scratch?.restoreEnv();
  });

  beforeEach(() => {
    direct.events.length = 0;
  });

  const ledgerCount = async (id: string) =>
    Number((await direct.dataSource.query('SELECT COUNT(*) AS n FROM ledger WHERE id = ?', [id]))[0].n);

  it('tries duplicate key, syntax and foreign key errors once', async () => {
    await direct.dataSource.query('CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB');
    await direct.dataSource.query(
      'CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES parent(id)) ENGINE=InnoDB',
    );
    await direct.dataSource.query("INSERT INTO ledger VALUES ('taken', 0)");
    const cases: Array<[string, () => Promise<unknown>, ErrorCategory]> = [
      ['duplicate', () => direct.dataSource.query("INSERT INTO ledger VALUES ('taken', 0)"), ErrorCategory.INTEGRITY],
      ['syntax', () => direct.dataSource.query('SELEC 1'), ErrorCategory.SYNTAX],
      ['foreign key', () => direct.dataSource.query('INSERT INTO child VALUES (1, 99)'), ErrorCategory.INTEGRITY],
    ];
    for (const [operation, work, category] of cases) {
      direct.events.length = 0;
      let calls = 0;
      const error = await direct.resilience
        .execute(() => (calls++, work()), { operation, retry: true })
        .catch((e: unknown) => e);
      expect(calls).toBe(1);
      expect(failedAttempts(direct)).toEqual([expect.objectContaining({ attempt: 1, willRetry: false, operation })]);
      expect(resilienceDetailsOf(error)).toMatchObject({ attempts: 1, classified: { category } });
    }
  });

  it('stops a statement at its deadline, on the server too', async () => {
    const error = await direct.resilience
      .execute(() => direct.dataSource.query('SELECT SLEEP(5) AS slept, CONNECTION_ID()'), { deadlineMs: 200 })
      .catch((e: unknown) => e);
    // A timeout, so SLEEP(5) was not waited out (it would have answered); and it is gone from the server (below).
    expect(resilienceDetailsOf(error)?.classified.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    const [running] = await direct.dataSource.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(5) AS slept%' AND ID <> CONNECTION_ID()",
    );
    expect(Number(running.n)).toBe(0);
  });

  it('bounds the wait for a pool connection and calls it overload', async () => {
    const small = await resilientApp({
      database: scratch.database,
      poolSize: 1,
      options: { pool: { acquireTimeoutMs: 200 } },
    });
    const holder = small.dataSource.createQueryRunner();
    try {
      await holder.connect();
      const error = await small.resilience.execute(() => small.dataSource.query('SELECT 1')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PoolAcquireTimeoutError);
      expect(resilienceDetailsOf(error)?.classified.category).toBe(ErrorCategory.OVERLOAD);
    } finally {
      await holder.release();
      await small.close();
    }
  });

  describe('through a fault proxy', () => {
    let proxy: FaultProxy;
    let proxied: ResilientApp;

    beforeAll(async () => {
      proxy = await new FaultProxy('127.0.0.1', 3306).start();
      proxied = await resilientApp({
        database: scratch.database,
        port: proxy.port,
        options: { pool: { validateAfterIdleMs: 0, validationTimeoutMs: 300 } },
      });
    });

    afterAll(async () => {
      await proxy?.stop(); // first: a silenced connection would keep the pool from closing
      await proxied?.close();
    });

    beforeEach(() => {
      proxied.events.length = 0;
    });

    const insert = (id: string, key?: string) =>
      proxied.resilience.transaction(
        async (manager) => {
          await manager.query('INSERT INTO ledger VALUES (?, 0)', [id]);
          return `inserted ${id}`;
        },
        { operation: 'insert', idempotencyKey: key },
      );

    it('a connection cut right after COMMIT was sent: CommitOutcomeUnknownError, no blind retry', async () => {
      proxy.cutAfterNextCommit();
      const error = await insert('cut-no-key').catch((e: unknown) => e);
      expect(proxy.faultsInjected).toBe(1);
      expect(error).toBeInstanceOf(CommitOutcomeUnknownError);
      expect(error).toMatchObject({ database: 'default', operation: 'insert', idempotencyKey: undefined });
      expect((error as CommitOutcomeUnknownError).sessionId).toEqual(expect.any(Number));
      expect(failedAttempts(proxied)).toHaveLength(1);
      expect(failedAttempts(proxied)[0]).toMatchObject({
        willRetry: false,
        error: { category: 'commit_outcome_unknown' },
      });
      // It did commit (the server got COMMIT); a blind retry would have failed on the duplicate or doubled it.
      await waitUntil(async () => (await ledgerCount('cut-no-key')) === 1, 'the cut commit to be visible');
    });

    it('with an idempotency key, a commit cut after it was sent settles as committed: success, applied once', async () => {
      proxy.cutAfterNextCommit();
      const faultsBefore = proxy.faultsInjected;
      await expect(insert('cut-with-key', 'key-cut-after')).resolves.toBe('inserted cut-with-key');
      expect(proxy.faultsInjected).toBe(faultsBefore + 1);
      expect(await ledgerCount('cut-with-key')).toBe(1);
      expect(proxied.events).toContainEqual(expect.objectContaining({ type: 'commit-settled', committed: true }));
    });

    it('with an idempotency key, a COMMIT that never arrived settles as not applied: re-run, applied once', async () => {
      proxy.dropNextCommit();
      const faultsBefore = proxy.faultsInjected;
      await expect(insert('dropped-with-key', 'key-dropped')).resolves.toBe('inserted dropped-with-key');
      expect(proxy.faultsInjected).toBe(faultsBefore + 1);
      expect(await ledgerCount('dropped-with-key')).toBe(1);
      expect(proxied.events).toContainEqual(expect.objectContaining({ type: 'commit-settled', committed: false }));
      expect(proxied.events).toContainEqual(expect.objectContaining({ type: 'recovered', attempts: 2 }));
    });

    it('replaces a pooled connection that went silent (network drop) before handing it out', async () => {
      await proxied.dataSource.query('SELECT 1'); // warm: one idle connection in the pool
      proxy.blackholeOpenConnections();
      proxied.events.length = 0;
      await expect(proxied.dataSource.query('SELECT 2 AS two')).resolves.toEqual([{ two: 2 }]);
      // Served on a fresh connection, not after a timeout on the dead one (that would be recorded).
      expect(proxied.events.filter((e) => e.type === 'attempt-failed')).toEqual([]);
    });
  });
});
