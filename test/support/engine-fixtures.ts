import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import type { WireProtocol } from '../../apps/cli/src/support/fault-proxy';
import { resilientApp, type ResilientApp } from './resilient-app';
import { useScratchDatabase } from './scratch-database';

/** A connection of the test's own, past the module: it reads the server's state and kills sessions. */
export interface Admin {
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  end(): Promise<void>;
}

/**
 * One engine as the shared specs meet it: a place of the spec's own on the local server (a scratch database, a
 * schema), an app on it (directly or through a proxy), and the few statements whose SQL differs.
 */
export interface EngineFixture {
  readonly name: string;
  readonly protocol: WireProtocol;
  readonly port: number;
  /** Makes the spec's place on the server and a table `entry (id INT PRIMARY KEY, note TEXT)` in it. */
  setUp(prefix: string): Promise<EngineSpace>;
  /** A statement that runs `seconds`. */
  sleep(seconds: number): string;
  /** A statement whose one row's `id` is the session's server-side id. */
  readonly sessionId: string;
  /** Ends a session from another connection. */
  kill(sessionId: number): string;
  /** Counts the sessions running a statement that contains `marker`. */
  running(marker: string): string;
  /** Makes the session refuse writes from now on. */
  readonly readOnlySession: string;
  /** `INSERT INTO entry VALUES (id, note)` with the driver's placeholders. */
  readonly insertEntry: string;
}

export interface EngineSpace {
  readonly admin: Admin;
  app(settings: {
    port?: number;
    replicaPort?: number;
    options?: Parameters<typeof resilientApp>[0]['options'];
    poolSize?: number;
    /** Served over HTTP (the app's `url`). */
    controllers?: Array<new (...args: never[]) => unknown>;
  }): Promise<ResilientApp>;
  tearDown(): Promise<void>;
}

const mariadb: EngineFixture = {
  name: 'MariaDB',
  protocol: 'mysql',
  port: 3306,
  async setUp(prefix) {
    const scratch = await useScratchDatabase(prefix);
    const connection = await createConnection({
      host: '127.0.0.1',
      port: 3306,
      user: 'root',
      database: scratch.database,
    });
    const admin: Admin = {
      query: async (sql) => (await connection.query(sql))[0] as Array<Record<string, unknown>>,
      end: () => connection.end(),
    };
    await admin.query('CREATE TABLE entry (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB');
    return {
      admin,
      app: (settings) => resilientApp({ database: scratch.database, ...settings }),
      tearDown: async () => {
        await admin.end().catch(() => undefined);
        await scratch.restoreEnv();
      },
    };
  },
  sleep: (seconds) => `SELECT SLEEP(${seconds})`,
  sessionId: 'SELECT CONNECTION_ID() AS id',
  kill: (id) => `KILL CONNECTION ${Number(id)}`,
  running: (marker) =>
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%${marker}%' AND INFO NOT LIKE '%PROCESSLIST%'`,
  readOnlySession: 'SET SESSION TRANSACTION READ ONLY',
  insertEntry: 'INSERT INTO entry VALUES (?, ?)',
};

const postgres: EngineFixture = {
  name: 'PostgreSQL',
  protocol: 'postgres',
  port: 5432,
  async setUp(prefix) {
    const schema = `${prefix}_${process.pid}`;
    const client = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await client.connect();
    const admin: Admin = { query: async (sql) => (await client.query(sql)).rows, end: () => client.end() };
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.entry (id INT PRIMARY KEY, note TEXT)`);
    await admin.query(`SET search_path = ${schema}`);
    return {
      admin,
      app: ({ replicaPort, ...settings }) =>
        resilientApp({ database: 'test', postgres: { schema, replicaPort }, ...settings }),
      tearDown: async () => {
        await admin.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
        await admin.end().catch(() => undefined);
      },
    };
  },
  sleep: (seconds) => `SELECT pg_sleep(${seconds})`,
  sessionId: 'SELECT pg_backend_pid() AS id',
  kill: (id) => `SELECT pg_terminate_backend(${Number(id)})`,
  running: (marker) =>
    `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${marker}%' AND query NOT LIKE '%pg_stat_activity%'`,
  readOnlySession: 'SET SESSION default_transaction_read_only = on',
  insertEntry: 'INSERT INTO entry VALUES ($1, $2)',
};

/** Every engine the module guards: the shared specs run over each (`describe.each(ENGINES)`). */
export const ENGINES: ReadonlyArray<[string, EngineFixture]> = [
  [mariadb.name, mariadb],
  [postgres.name, postgres],
];
