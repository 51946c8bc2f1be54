import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

/**
 * Each of the guard's mechanisms alone, each test failing without its mechanism: the server-side limit
 * (MariaDB's `max_statement_time`), KILL QUERY (the only thing that stops a write on MySQL, forced here on
 * MariaDB), and destroying a connection that must not be reused instead of pooling it. One connection in the
 * pool, so that a connection wrongly given back is the next one used.
 */
describe('statement deadlines and doomed connections, each mechanism alone (real MariaDB)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let app: ResilientApp;
  let observer: Awaited<ReturnType<typeof scratch.connect>>;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_deadline');
    observer = await scratch.connect();
    await observer.query('CREATE TABLE slot (id INT PRIMARY KEY, v INT NOT NULL)');
    await observer.query('INSERT INTO slot VALUES (1, 0)');
    app = await resilientApp({
      database: scratch.database,
      poolSize: 1,
      options: { alerts: { log: false }, healthCheck: { enabled: false } },
    });
  });

  afterAll(async () => {
    await observer?.end();
    await app?.close();
    await scratch?.restoreEnv();
  });

  /** The server thread of the pool's (only) connection. */
  const threadId = async () => Number((await app.dataSource.query('SELECT CONNECTION_ID() AS id'))[0].id);
  const running = async (fragment: string) => {
    const rows = await observer.query(
      'SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()',
      [`%${fragment}%`],
    );
    return rows.length;
  };
  const alive = async (id: number) => {
    const rows = await observer.query('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);
    return rows.length > 0;
  };

  it("MariaDB: the server's own limit stops the statement first; the connection stays in use", async () => {
    const before = await threadId();
    const failure = await app.resilience
      .execute(() => app.dataSource.query('UPDATE slot SET v = SLEEP(5) WHERE id = 1'), { deadlineMs: 800 })
      .catch((error: unknown) => error);
    // max_statement_time's error (1969), not the client timer's DeadlineExceededError: the server stopped it.
    expect(failure).toMatchObject({ driverError: expect.objectContaining({ errno: 1969 }) });
    expect(await threadId()).toBe(before); // a clean server error: the connection was not dropped
  });

  it('MySQL path (no server limit on writes), forced on MariaDB: KILL QUERY stops the write on the server at the deadline', async () => {
    const driver = app.dataSource.driver as unknown as { pool: { _allConnections: { toArray(): unknown[] } } };
    for (const connection of driver.pool._allConnections.toArray()) {
      (connection as { _isMariaDB: boolean })._isMariaDB = false;
    }
    const victim = await threadId();
    // The write waits for a row lock the observer holds: InnoDB does not notice a client that went away while
    // it waits (SLEEP would, every 5 s), so only a KILL ends it before the lock is released.
    await observer.query('BEGIN');
    await observer.query('SELECT * FROM slot WHERE id = 1 FOR UPDATE');
    try {
      const failure = await app.resilience
        .execute(() => app.dataSource.query('UPDATE slot SET v = 42 WHERE id = 1'), { deadlineMs: 500 })
        .catch((error: unknown) => error);
      // The client timer (no server limit was sent); an autocommit write given up on may have been applied.
      expect(failure).toMatchObject({ code: 'COMMIT_OUTCOME_UNKNOWN', cause: { code: 'DEADLINE_EXCEEDED' } });
      await waitUntil(async () => (await running('SET v = 42')) === 0, 'the server to stop the write', 10_000);
    } finally {
      await observer.query('ROLLBACK');
    }
    // The connection that timed out is dropped, not pooled: the next statement runs on another one.
    await waitUntil(async () => !(await alive(victim)), 'the timed-out connection to be gone', 5_000);
    expect(await threadId()).not.toBe(victim);
  });
});
