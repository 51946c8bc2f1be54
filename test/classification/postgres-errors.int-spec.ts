import { Client } from 'pg';
import { DataSource, QueryFailedError } from 'typeorm';
import { ErrorClassifier } from 'nestjs-database-resilience';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { provokePostgresDeadlock } from '../support/postgres-deadlock';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

/**
 * The classifier on real PostgreSQL errors (node-postgres puts the SQLSTATE in `code`, beside a `severity`),
 * raw and wrapped by TypeORM: deadlocks and serialization failures are retried as whole transactions, caller
 * errors never, a refused connection counts toward the breaker; a session lost under a statement is never made
 * retryable (it may have hit COMMIT) — and no value reaches the recorded message.
 */
describe('classifying real PostgreSQL errors (pg, TypeORM)', () => {
  const classifier = new ErrorClassifier();
  const schema = `dr_pg_${process.pid}`;
  let dataSource: DataSource;
  const clients: Client[] = [];

  const client = async (options: object = {}) => {
    const c = new Client({ ...PG, ...options });
    c.on('error', () => undefined);
    await c.connect();
    await c.query(`SET search_path TO ${schema}`);
    clients.push(c);
    return c;
  };
  const failure = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      return error;
    }
    throw new Error('expected a failure');
  };

  beforeAll(async () => {
    const admin = await client();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`SET search_path TO ${schema}`);
    await admin.query('CREATE TABLE account (id INT PRIMARY KEY, balance INT NOT NULL CHECK (balance >= 0))');
    await admin.query('CREATE TABLE transfer (id SERIAL PRIMARY KEY, account_id INT NOT NULL REFERENCES account (id))');
    await admin.query('INSERT INTO account VALUES (1, 100), (2, 100)');
    dataSource = new DataSource({
      type: 'postgres',
      host: PG.host,
      port: PG.port,
      username: PG.user,
      database: PG.database,
      schema,
      extra: { options: `-c search_path=${schema}` },
    });
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    const admin = clients[0];
    await admin?.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    for (const c of clients) await c.end().catch(() => undefined);
  });

  const expectClass = (error: unknown, expected: Record<string, unknown>) => {
    const classified = classifier.classify(error);
    expect(classified).toMatchObject(expected);
    return classified;
  };

  it('40P01 deadlock (raw and through TypeORM): deadlock, retried as a whole transaction', async () => {
    const error = await failure(() => provokePostgresDeadlock(`${schema}.account`));
    expect(error).toMatchObject({ code: '40P01' });
    expectClass(error, { category: 'deadlock', retryable: true, scope: 'transaction', sqlState: '40P01' });
    const wrapped = new QueryFailedError('UPDATE account SET balance = balance WHERE id = $1', [2], error as Error);
    expectClass(wrapped, { category: 'deadlock', retryable: true, sqlState: '40P01' });
  });

  it('40001 serialization failure (REPEATABLE READ): retried as a whole transaction', async () => {
    const a = await client();
    const b = await client();
    await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await a.query('SELECT balance FROM account WHERE id = 1');
    await b.query('UPDATE account SET balance = balance WHERE id = 1');
    const error = await failure(() => a.query('UPDATE account SET balance = balance WHERE id = 1'));
    await a.query('ROLLBACK');
    expectClass(error, { sqlState: '40001', retryable: true, scope: 'transaction' });
  });

  it('55P03 lock not available (NOWAIT): a lock timeout, retried', async () => {
    const a = await client();
    const b = await client();
    await a.query('BEGIN');
    await a.query('SELECT * FROM account WHERE id = 1 FOR UPDATE');
    const error = await failure(() => b.query('SELECT * FROM account WHERE id = 1 FOR UPDATE NOWAIT'));
    await a.query('ROLLBACK');
    expectClass(error, { category: 'lock_timeout', retryable: true, sqlState: '55P03' });
  });

  it('57014 statement timeout: a timeout, not retried; 25P02 after it in the transaction: never the cause', async () => {
    const c = await client();
    await c.query('BEGIN');
    await c.query('SET LOCAL statement_timeout = 50');
    const timeout = await failure(() => c.query('SELECT pg_sleep(2)'));
    const aborted = await failure(() => c.query('SELECT 1'));
    await c.query('ROLLBACK');
    expectClass(timeout, { category: 'statement_timeout', retryable: false, sqlState: '57014' });
    expectClass(aborted, { category: 'unknown', retryable: false, sqlState: '25P02' });
  });

  it('caller errors (23505, 23503, 23514, 22P02, 42P01, 42601): never retried, never the server unwell, no values', async () => {
    const secret = "O'Brien-4111";
    const literal = `'${secret.replace(/'/g, "''")}'`; // as SQL writes it
    const cases: Array<[string, unknown[], Record<string, unknown>]> = [
      ['INSERT INTO account VALUES (1, 5)', [], { category: 'integrity', sqlState: '23505' }],
      ['INSERT INTO transfer (account_id) VALUES ($1)', [999], { category: 'integrity', sqlState: '23503' }],
      ['UPDATE account SET balance = -1 WHERE id = 2', [], { category: 'integrity', sqlState: '23514' }],
      ['SELECT * FROM account WHERE id = $1', [secret], { category: 'data', sqlState: '22P02' }],
      [`SELECT * FROM no_such_table WHERE x = ${literal}`, [], { category: 'schema', sqlState: '42P01' }],
      [`SELEKT ${literal}`, [], { category: 'syntax', sqlState: '42601' }],
    ];
    for (const [sql, parameters, expected] of cases) {
      const error = await failure(() => dataSource.query(sql, parameters));
      const classified = expectClass(error, { ...expected, retryable: false, serverUnwell: false });
      expect(classified.message).not.toContain(secret);
      expect(classified.message).not.toContain('Brien');
    }
  });

  it('connection trouble: refused (retried), a database that does not exist, a backend terminated (never retried)', async () => {
    const port = await closedPort();
    const closed = await failure(() => new Client({ ...PG, port }).connect());
    expectClass(closed, { category: 'connection', serverUnwell: true, retryable: true });
    const missing = await failure(() => new Client({ ...PG, database: 'dr_no_such_database' }).connect());
    expectClass(missing, { category: 'configuration', retryable: false, sqlState: '3D000' });
    const victim = await client();
    const killer = await client();
    const [{ pid }] = (await victim.query('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>;
    const sleeping = failure(() => victim.query('SELECT pg_sleep(5)'));
    await waitUntil(
      async () =>
        (await killer.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid])).rowCount ===
        1,
      'the statement to run',
    );
    await killer.query('SELECT pg_terminate_backend($1)', [pid]);
    // A lost session: a new connection. Whether it was COMMIT is the engine's to say (it marks the error).
    expectClass(await sleeping, { category: 'connection', retryable: true, sqlState: '57P01' });
  });

  it("pg's own errors without a SQLSTATE: a lost session is a connection error, pg's query_timeout never retried", () => {
    expectClass(new Error('Connection terminated due to connection timeout'), {
      category: 'connection',
      retryable: true,
    });
    expectClass(new Error('timeout exceeded when trying to connect'), { category: 'overload', retryable: false });
    expectClass(new Error('Connection terminated unexpectedly'), { category: 'connection', retryable: true });
    expectClass(new Error('Query read timeout'), { category: 'statement_timeout', retryable: false });
  });
});
