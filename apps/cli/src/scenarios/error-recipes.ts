import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { ErrorCategory } from 'nestjs-database-resilience';
import { waitUntil, withConnections, type RawSession, type ServerTarget } from '../support/server-target';

/** One way to make the server (or the network) fail for real, and what the classifier must say about it. */
export interface ErrorRecipe {
  name: string;
  expected: { category: ErrorCategory; errno?: number; code?: string; sqlState?: string };
  /** Resolves with the error the failure produced; rejects if no error came. */
  provoke(target: ServerTarget): Promise<unknown>;
}

export async function failure(action: Promise<unknown>): Promise<unknown> {
  try {
    await action;
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, but the statement succeeded');
}

export async function createTable(target: ServerTarget, ddl: string, ...rows: string[]): Promise<void> {
  await withConnections(target, 1, async (c) => {
    await c.query(ddl);
    for (const row of rows) await c.query(row);
  });
}

export const unique = () => randomBytes(4).toString('hex');

/** A port nothing listens on: bind an ephemeral port, then close it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function lockWaits(c: RawSession): Promise<number> {
  const [{ n }] = await c.query(
    "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
  );
  return Number(n);
}

/** The MySQL/MariaDB errors the classification scenario provokes (PostgreSQL's: postgres-error-recipes.ts). */
export const MYSQL_ERROR_RECIPES: readonly ErrorRecipe[] = [
  {
    name: 'deadlock (two transactions, opposite order)',
    expected: { category: ErrorCategory.DEADLOCK, errno: 1213 },
    async provoke(target) {
      const table = `dl_${unique()}`;
      await createTable(
        target,
        `CREATE TABLE ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`,
        `INSERT INTO ${table} VALUES (1,0),(2,0),(3,0)`,
      );
      return withConnections(target, 3, async (a, b, observer) => {
        await a.query('START TRANSACTION');
        await a.query(`UPDATE ${table} SET v=v+1 WHERE id IN (1,3)`); // heavier: never the victim
        await b.query('START TRANSACTION');
        await b.query(`UPDATE ${table} SET v=v+1 WHERE id=2`);
        const blocked = a.query(`UPDATE ${table} SET v=v+1 WHERE id=2`);
        blocked.catch(() => undefined); // awaited below; if no deadlock comes, its failure must not go unhandled
        // Best seen waiting first; not required: either order ends in a deadlock whose victim is `b` (InnoDB rolls
        // back the transaction that changed fewer rows), and INNODB_TRX has been seen to miss a wait under load.
        await waitUntil(async () => (await lockWaits(observer)) >= 1, 'the first transaction to wait', 2_000).catch(
          () => undefined,
        );
        const error = await failure(b.query(`UPDATE ${table} SET v=v+1 WHERE id=1`));
        await blocked;
        await a.query('COMMIT');
        return error;
      });
    },
  },
  {
    name: 'lock wait timeout',
    expected: { category: ErrorCategory.LOCK_TIMEOUT, errno: 1205 },
    async provoke(target) {
      const table = `lw_${unique()}`;
      await createTable(
        target,
        `CREATE TABLE ${table} (id INT PRIMARY KEY, v INT) ENGINE=InnoDB`,
        `INSERT INTO ${table} VALUES (1,0)`,
      );
      return withConnections(target, 2, async (holder, waiter) => {
        await holder.query('START TRANSACTION');
        await holder.query(`SELECT * FROM ${table} WHERE id=1 FOR UPDATE`);
        await waiter.query('SET SESSION innodb_lock_wait_timeout=1');
        const error = await failure(waiter.query(`UPDATE ${table} SET v=1 WHERE id=1`));
        await holder.query('ROLLBACK');
        return error;
      });
    },
  },
  {
    name: 'duplicate key',
    expected: { category: ErrorCategory.INTEGRITY, errno: 1062 },
    async provoke(target) {
      const table = `dup_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (id INT PRIMARY KEY)`, `INSERT INTO ${table} VALUES (1)`);
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${table} VALUES (1)`)));
    },
  },
  {
    name: 'foreign key',
    expected: { category: ErrorCategory.INTEGRITY, errno: 1452 },
    async provoke(target) {
      const parent = `fkp_${unique()}`;
      await createTable(target, `CREATE TABLE ${parent} (id INT PRIMARY KEY) ENGINE=InnoDB`);
      await createTable(
        target,
        `CREATE TABLE ${parent}_child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES ${parent}(id)) ENGINE=InnoDB`,
      );
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${parent}_child VALUES (1, 42)`)));
    },
  },
  {
    name: 'data too long',
    expected: { category: ErrorCategory.DATA, errno: 1406 },
    async provoke(target) {
      const table = `long_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (code VARCHAR(3))`);
      return withConnections(target, 1, async (c) => {
        await c.query("SET SESSION sql_mode='STRICT_TRANS_TABLES'");
        return failure(c.query(`INSERT INTO ${table} VALUES ('abcdef')`));
      });
    },
  },
  {
    name: 'NOT NULL',
    expected: { category: ErrorCategory.DATA, errno: 1048 },
    async provoke(target) {
      const table = `nn_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (name VARCHAR(10) NOT NULL)`);
      return withConnections(target, 1, (c) => failure(c.query(`INSERT INTO ${table} VALUES (NULL)`)));
    },
  },
  {
    name: 'unknown table',
    expected: { category: ErrorCategory.SCHEMA, errno: 1146 },
    provoke: (target) => withConnections(target, 1, (c) => failure(c.query('SELECT * FROM no_such_table'))),
  },
  {
    name: 'unknown column',
    expected: { category: ErrorCategory.SCHEMA, errno: 1054 },
    async provoke(target) {
      const table = `col_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (id INT)`);
      return withConnections(target, 1, (c) => failure(c.query(`SELECT no_such_column FROM ${table}`)));
    },
  },
  {
    name: 'syntax error',
    expected: { category: ErrorCategory.SYNTAX, errno: 1064 },
    provoke: (target) => withConnections(target, 1, (c) => failure(c.query('SELEC 1'))),
  },
  {
    name: 'access denied (wrong password)',
    expected: { category: ErrorCategory.AUTHENTICATION, errno: 1045 },
    async provoke(target) {
      const user = `dr_probe_${unique()}`;
      await withConnections(target, 1, (c) => c.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'right-${unique()}'`));
      try {
        return await failure(target.connect({ user, password: 'wrong-password' }));
      } finally {
        await withConnections(target, 1, (c) => c.query(`DROP USER IF EXISTS '${user}'@'%'`));
      }
    },
  },
  {
    name: 'unknown database',
    expected: { category: ErrorCategory.CONFIGURATION, errno: 1049 },
    provoke: (target) => failure(target.connect({ database: `dr_missing_${unique()}` })),
  },
  {
    name: 'connection refused (closed port)',
    expected: { category: ErrorCategory.CONNECTION, code: 'ECONNREFUSED' },
    provoke: async (target) => failure(target.connect({ port: await closedPort() })),
  },
  {
    name: 'killed connection (KILL CONNECTION)',
    expected: { category: ErrorCategory.CONNECTION },
    provoke: (target) =>
      withConnections(target, 2, async (victim, killer) => {
        const running = failure(victim.query('SELECT SLEEP(30)'));
        await killer.query(`KILL CONNECTION ${victim.id}`);
        return running;
      }),
  },
  {
    name: 'statement timeout (max_statement_time)',
    expected: { category: ErrorCategory.STATEMENT_TIMEOUT, errno: 1969 },
    provoke: (target) =>
      withConnections(target, 1, (c) => failure(c.query('SET STATEMENT max_statement_time=0.2 FOR SELECT SLEEP(3)'))),
  },
  {
    name: 'write in a READ ONLY transaction',
    expected: { category: ErrorCategory.READ_ONLY, errno: 1792 },
    async provoke(target) {
      const table = `ro_${unique()}`;
      await createTable(target, `CREATE TABLE ${table} (id INT)`);
      return withConnections(target, 1, async (c) => {
        await c.query('START TRANSACTION READ ONLY');
        const error = await failure(c.query(`INSERT INTO ${table} VALUES (1)`));
        await c.query('ROLLBACK');
        return error;
      });
    },
  },
];
