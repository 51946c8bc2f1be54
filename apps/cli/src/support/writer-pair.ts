import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { CommitOutcomeUnknownError } from 'nestjs-database-resilience';
import type { DatabaseEnv } from '../../../../libs/shared/src/database-env';
import type { WireProtocol } from './fault-proxy';
import { MariaDbInstance } from './mariadb-instance';
import { PostgresInstance } from './postgres-instance';
import { waitUntil } from './server-target';

/** How an app reaches one of the pair's servers, besides its port. */
export interface PairConnection {
  database: string;
  /** MariaDB: a user without SUPER (a read-only server refuses its writes). */
  username?: string;
  /** PostgreSQL: the schema of the table. */
  postgres?: { schema: string };
}

/**
 * Two servers of the test's own, the old writer and the one that takes over, each with a table
 * `entry (id INT PRIMARY KEY, note TEXT)`: what a cluster endpoint hides from the app. A failover is
 * `promoteNew()` then `demoteOld()` (the old writer fenced read-only), then the endpoint names the new one.
 */
export interface WriterPair {
  readonly name: string;
  readonly protocol: WireProtocol;
  readonly oldPort: number;
  readonly newPort: number;
  /** `INSERT INTO entry VALUES (id, note)` with the driver's placeholders. */
  readonly insert: string;
  /** How the module's app reaches a server on `port` (an app user a read-only server refuses). */
  readonly app: PairConnection;
  /** Plain TypeORM on `port`, the same user. */
  plain(port: number): DataSourceOptions;
  /** The same, as the CLI's and benchmarks' contexts take it. */
  env(port: number): DatabaseEnv;
  promoteNew(): Promise<void>;
  /** The old writer refuses writes from now on, on open connections too. */
  demoteOld(): Promise<void>;
  /** The old writer takes writes again. */
  restoreOld(): Promise<void>;
  /** The new writer stops (a fast shutdown: its sessions are ended), and starts again. */
  stopNew(): Promise<void>;
  startNew(): Promise<void>;
  /** The old writer stops (a fast shutdown), and starts again as a writer. */
  stopOld(): Promise<void>;
  startOld(): Promise<void>;
  /** The port of the server a new connection through `port` reaches. */
  portThrough(port: number): Promise<number>;
  /** Every row's id, from every server that holds rows of its own (a row on two servers is there twice). */
  ids(): Promise<number[]>;
  destroy(): Promise<void>;
}

/** Two MariaDB servers, unrelated: each row lives where it was written. The app's user has no SUPER. */
async function mariadbPair(): Promise<WriterPair> {
  const [old, next] = await Promise.all([MariaDbInstance.create(), MariaDbInstance.create()]);
  for (const server of [old, next]) {
    const admin = await server.connect('test');
    await admin.query('CREATE TABLE entry (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB');
    await admin.query("CREATE USER 'app'@'%'");
    await admin.query("GRANT ALL ON test.* TO 'app'@'%'");
    await admin.end();
  }
  const onOld = async (sql: string) => {
    const admin = await old.connect();
    await admin.query(sql);
    await admin.end();
  };
  const idsOn = async (server: MariaDbInstance) => {
    const admin = await server.connect('test');
    const [rows] = await admin.query('SELECT id FROM entry');
    await admin.end();
    return (rows as Array<{ id: number }>).map((row) => row.id);
  };
  return {
    name: 'MariaDB',
    protocol: 'mysql',
    oldPort: old.port,
    newPort: next.port,
    insert: 'INSERT INTO entry VALUES (?, ?)',
    app: { database: 'test', username: 'app' },
    plain: (port) => ({ type: 'mysql', host: '127.0.0.1', port, username: 'app', database: 'test', poolSize: 10 }),
    env: (port) => ({ engine: 'mysql', host: '127.0.0.1', port, username: 'app', password: '', database: 'test' }),
    promoteNew: async () => undefined, // writable already
    demoteOld: () => onOld('SET GLOBAL read_only = ON'),
    restoreOld: () => onOld('SET GLOBAL read_only = OFF'),
    stopNew: () => next.stop(),
    startNew: () => next.start(),
    stopOld: () => old.stop(),
    startOld: () => old.start(),
    portThrough: async (port) => {
      const client = await createConnection({ host: '127.0.0.1', port, user: 'app', database: 'test' });
      try {
        return Number(((await client.query('SELECT @@port AS port'))[0] as Array<{ port: number }>)[0].port);
      } finally {
        await client.end();
      }
    },
    ids: async () => [...(await idsOn(old)), ...(await idsOn(next))],
    destroy: async () => {
      await Promise.all([old.destroy(), next.destroy()]);
    },
  };
}

/** A PostgreSQL primary and its streaming standby; the failover promotes the standby (`pg_promote()`). */
async function postgresPair(): Promise<WriterPair> {
  const primary = await PostgresInstance.create();
  let admin = await primary.connect();
  await admin.query('CREATE TABLE entry (id INT PRIMARY KEY, note TEXT)');
  const standby = await primary.standby();
  let standbyAdmin = await standby.connect();
  await waitUntil(
    async () => (await standbyAdmin.query("SELECT to_regclass('entry') IS NOT NULL AS there")).rows[0].there,
    'the table on the standby',
  );
  let promoted = false;
  const readOnly = async (on: boolean) => {
    await admin.query(
      `ALTER SYSTEM ${on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`,
    );
    await admin.query('SELECT pg_reload_conf()');
  };
  const idsOn = async (client: typeof admin) => (await client.query('SELECT id FROM entry')).rows.map((r) => r.id);
  return {
    name: 'PostgreSQL',
    protocol: 'postgres',
    oldPort: primary.port,
    newPort: standby.port,
    insert: 'INSERT INTO entry VALUES ($1, $2)',
    app: { database: 'test', postgres: { schema: 'public' } },
    env: (port) => ({
      engine: 'postgres',
      host: '127.0.0.1',
      port,
      username: 'postgres',
      password: '',
      database: 'test',
    }),
    plain: (port) => ({
      type: 'postgres',
      host: '127.0.0.1',
      port,
      username: 'postgres',
      database: 'test',
      poolSize: 10,
    }),
    promoteNew: async () => {
      await standbyAdmin.query('SELECT pg_promote(true, 30)');
      promoted = true;
    },
    demoteOld: () => readOnly(true),
    restoreOld: () => readOnly(false),
    stopNew: async () => {
      await standbyAdmin.end().catch(() => undefined);
      await standby.stop();
    },
    startNew: async () => {
      await standby.start();
      standbyAdmin = await standby.connect();
    },
    stopOld: async () => {
      await admin.end().catch(() => undefined);
      await primary.stop();
    },
    startOld: async () => {
      await primary.start();
      admin = await primary.connect();
    },
    portThrough: async (port) => {
      const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'test' });
      await client.connect();
      try {
        return Number((await client.query("SELECT current_setting('port') AS port")).rows[0].port);
      } finally {
        await client.end();
      }
    },
    // Rows written before the promotion are on both (replicated); after it, each on the one that took it.
    ids: async () => {
      if (!promoted) return idsOn(admin);
      const onNew = await idsOn(standbyAdmin);
      const there = new Set(onNew);
      return [...onNew, ...(await idsOn(admin)).filter((id) => !there.has(id))];
    },
    destroy: async () => {
      await admin.end().catch(() => undefined);
      await standbyAdmin.end().catch(() => undefined);
      await standby.destroy();
      await primary.destroy();
    },
  };
}

/** Both engines, for `describe.each`. */
export const WRITER_PAIRS: ReadonlyArray<[string, () => Promise<WriterPair>]> = [
  ['MariaDB', mariadbPair],
  ['PostgreSQL', postgresPair],
];

/** What the writing callers saw: each id written, each id refused, when the answer came and how long it took. */
export interface WriteLedger {
  written: Array<{ id: number; at: number; ms: number }>;
  /**
   * `unknown`: the caller was told the outcome is unknown; `kind`: the error's class and code (the error itself is
   * not kept: thousands of them).
   */
  failed: Array<{ id: number; at: number; ms: number; unknown: boolean; kind: string }>;
}

/**
 * `callers` callers writing one row each (ids from `firstId`), again and again, until `stop()` says so. A caller
 * yields to the event loop after a failure: an open breaker refuses without I/O, and 20 callers looping on refusals
 * made of promises alone would starve timers and sockets (the test's own waits, the servers' answers) and grow the
 * ledger without bound.
 */
export async function writeUntil(
  write: (id: number) => Promise<unknown>,
  firstId: number,
  stop: () => boolean,
  callers = 20,
): Promise<WriteLedger> {
  const ledger: WriteLedger = { written: [], failed: [] };
  let next = firstId;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (!stop()) {
        const id = next++;
        const startedAt = Date.now();
        try {
          await write(id);
          ledger.written.push({ id, at: Date.now(), ms: Date.now() - startedAt });
        } catch (error) {
          const unknown = error instanceof CommitOutcomeUnknownError;
          const code = (error as { code?: unknown } | null)?.code;
          const kind = `${(error as object | null)?.constructor?.name ?? typeof error}${code ? ` ${String(code)}` : ''}`;
          ledger.failed.push({ id, at: Date.now(), ms: Date.now() - startedAt, unknown, kind });
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }),
  );
  return ledger;
}
