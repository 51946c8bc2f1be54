import { ErrorCategory } from 'nestjs-database-resilience';
import { waitUntil, withConnections, type ServerTarget } from '../support/server-target';
import { closedPort, createTable, failure, unique, type ErrorRecipe } from './error-recipes';

/** A table `name` with rows 1, 2 and 3, for the lock recipes. */
const lockTable = async (target: ServerTarget, name: string) =>
  createTable(
    target,
    `CREATE TABLE ${name} (id INT PRIMARY KEY, v INT)`,
    `INSERT INTO ${name} VALUES (1,0),(2,0),(3,0)`,
  );

/** The PostgreSQL errors the classification scenario provokes (reference: postgres-facts §2). */
export const POSTGRES_ERROR_RECIPES: readonly ErrorRecipe[] = [
  {
    name: 'deadlock (two transactions, opposite order)',
    expected: { category: ErrorCategory.DEADLOCK, sqlState: '40P01' },
    async provoke(target) {
      const table = `dl_${unique()}`;
      await lockTable(target, table);
      return withConnections(target, 2, async (a, b) => {
        // `a` looks for the deadlock first when this user may lower deadlock_timeout; either way one of them fails.
        await a.query("SET deadlock_timeout = '50ms'").catch(() => undefined);
        await b.query("SET deadlock_timeout = '10s'").catch(() => undefined);
        await a.query('BEGIN');
        await b.query('BEGIN');
        await a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        await b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
        const caught = (statement: Promise<unknown>) =>
          statement.then(
            () => undefined,
            (error: unknown) => error,
          );
        const bWaits = caught(b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`));
        const aWaits = caught(a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`));
        const error = (await aWaits) ?? (await bWaits);
        await a.query('ROLLBACK');
        await bWaits;
        await b.query('ROLLBACK');
        if (error === undefined) throw new Error('expected a deadlock');
        return error;
      });
    },
  },
  {
    name: 'serialization failure (REPEATABLE READ)',
    expected: { category: ErrorCategory.DEADLOCK, sqlState: '40001' },
    async provoke(target) {
      const table = `ser_${unique()}`;
      await lockTable(target, table);
      return withConnections(target, 2, async (a, b) => {
        await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await a.query(`SELECT v FROM ${table} WHERE id = 1`);
        await b.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        const error = await failure(a.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`));
        await a.query('ROLLBACK');
        return error;
      });
    },
  },
  {
    name: 'lock wait timeout (lock_timeout)',
    expected: { category: ErrorCategory.LOCK_TIMEOUT, sqlState: '55P03' },
    async provoke(target) {
      const table = `lw_${unique()}`;
      await lockTable(target, table);
      return withConnections(target, 2, async (holder, waiter) => {
        await holder.query('BEGIN');
        await holder.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
        await waiter.query('BEGIN');
        await waiter.query("SET LOCAL lock_timeout = '200ms'");
        const error = await failure(waiter.query(`UPDATE ${table} SET v = 1 WHERE id = 1`));
        await waiter.query('ROLLBACK');
        await holder.query('ROLLBACK');
        return error;
      });
    },
  },
  {
    name: 'duplicate key',
    expected: { category: ErrorCategory.INTEGRITY, sqlState: '23505' },
    async provoke(target) {
      const table = `dup_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (id INT PRIMARY KEY)`, `INSERT INTO ${table} VALUES (1)`);
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${table} VALUES (1)`)));
    },
  },
  {
    name: 'foreign key',
    expected: { category: ErrorCategory.INTEGRITY, sqlState: '23503' },
    async provoke(target) {
      const parent = `fkp_${unique()}`;
      await createTable(target, `CREATE TABLE ${parent} (id INT PRIMARY KEY)`);
      await createTable(
        target,
        `CREATE TABLE ${parent}_child (id INT PRIMARY KEY, parent_id INT REFERENCES ${parent})`,
      );
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${parent}_child VALUES (1, 42)`)));
    },
  },
  {
    name: 'check constraint',
    expected: { category: ErrorCategory.INTEGRITY, sqlState: '23514' },
    async provoke(target) {
      const table = `chk_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (balance INT CHECK (balance >= 0))`);
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${table} VALUES (-1)`)));
    },
  },
  {
    name: 'NOT NULL',
    expected: { category: ErrorCategory.INTEGRITY, sqlState: '23502' },
    async provoke(target) {
      const table = `nn_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (name VARCHAR(10) NOT NULL)`);
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${table} VALUES (NULL)`)));
    },
  },
  {
    name: 'data too long',
    expected: { category: ErrorCategory.DATA, sqlState: '22001' },
    async provoke(target) {
      const table = `long_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (code VARCHAR(3))`);
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${table} VALUES ($1)`, ['abcdef'])));
    },
  },
  {
    name: 'invalid input (text for a number)',
    expected: { category: ErrorCategory.DATA, sqlState: '22P02' },
    provoke: (target) => withConnections(target, 1, (c) => failure(c.query('SELECT $1::int AS n', ['abc']))),
  },
  {
    name: 'unknown table',
    expected: { category: ErrorCategory.SCHEMA, sqlState: '42P01' },
    provoke: (target) => withConnections(target, 1, (c) => failure(c.query('SELECT * FROM no_such_table'))),
  },
  {
    name: 'unknown column',
    expected: { category: ErrorCategory.SCHEMA, sqlState: '42703' },
    async provoke(target) {
      const table = `col_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (id INT)`);
      return withConnections(target, 1, (c) => failure(c.query(`SELECT no_such_column FROM ${table}`)));
    },
  },
  {
    name: 'syntax error',
    expected: { category: ErrorCategory.SYNTAX, sqlState: '42601' },
    provoke: (target) => withConnections(target, 1, (c) => failure(c.query('SELEC 1'))),
  },
  {
    // A wrong password (28P01) needs password authentication; a role the server does not know fails under any.
    name: 'unknown role',
    expected: { category: ErrorCategory.AUTHENTICATION, sqlState: '28000' },
    provoke: (target) => failure(target.connect({ user: `dr_probe_${unique()}`, password: 'wrong-password' })),
  },
  {
    name: 'unknown database',
    expected: { category: ErrorCategory.CONFIGURATION, sqlState: '3D000' },
    provoke: (target) => failure(target.connect({ database: `dr_missing_${unique()}` })),
  },
  {
    name: 'connection refused (closed port)',
    expected: { category: ErrorCategory.CONNECTION, code: 'ECONNREFUSED' },
    provoke: async (target) => failure(target.connect({ port: await closedPort() })),
  },
  {
    name: 'terminated session (pg_terminate_backend)',
    expected: { category: ErrorCategory.CONNECTION, sqlState: '57P01' },
    provoke: (target) =>
      withConnections(target, 2, async (victim, killer) => {
        const running = failure(victim.query('SELECT pg_sleep(30)'));
        await waitUntil(
          async () =>
            (await killer.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [victim.id]))
              .length === 1,
          'the statement to run',
        );
        await killer.query('SELECT pg_terminate_backend($1)', [victim.id]);
        return running;
      }),
  },
  {
    name: 'statement timeout (statement_timeout)',
    expected: { category: ErrorCategory.STATEMENT_TIMEOUT, sqlState: '57014' },
    provoke: (target) =>
      withConnections(target, 1, async (c) => {
        await c.query('SET statement_timeout = 200');
        return failure(c.query('SELECT pg_sleep(3)'));
      }),
  },
  {
    name: 'write in a READ ONLY transaction',
    expected: { category: ErrorCategory.READ_ONLY, sqlState: '25006' },
    async provoke(target) {
      const table = `ro_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (id INT)`);
      return withConnections(target, 1, async (c) => {
        await c.query('BEGIN READ ONLY');
        const error = await failure(c.query(`INSERT INTO ${table} VALUES (1)`));
        await c.query('ROLLBACK');
        return error;
      });
    },
  },
];
