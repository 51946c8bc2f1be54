import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import type { DatabaseEnv } from '../../../../libs/shared/src/database-env';
import { scenarioSqlFor, type ScenarioSql } from './scenario-sql';

/** A plain connection of the scenarios' own (no pool, no module), on either engine. */
export interface RawSession {
  /** The server's id of the session: MySQL's connection id, PostgreSQL's backend pid. */
  readonly id: number;
  /** The rows of a query (nothing useful for a statement that returns none). */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  end(): Promise<void>;
}

export interface ConnectOverrides {
  user?: string;
  password?: string;
  port?: number;
  /** A database of its own, or `null` for the server's default one (to create or drop the scratch database). */
  database?: string | null;
}

/** A server the scenarios talk to, and a scratch database of their own on it. */
export class ServerTarget {
  readonly sql: ScenarioSql;

  constructor(
    readonly env: DatabaseEnv,
    readonly database: string,
  ) {
    this.sql = scenarioSqlFor(env.engine);
  }

  get engine(): DatabaseEnv['engine'] {
    return this.env.engine;
  }

  get address(): string {
    return `${this.env.host}:${this.env.port}`;
  }

  /** A raw connection to the scratch database (or as `overrides` say). */
  connect(overrides: ConnectOverrides = {}): Promise<RawSession> {
    const { host, port, username: user, password } = this.env;
    const settings = { host, port, user, password, ...overrides };
    const database = overrides.database === undefined ? this.database : overrides.database;
    return this.engine === 'postgres'
      ? connectPostgres({ ...settings, database: database ?? this.env.database })
      : connectMysql({ ...settings, database: database ?? undefined });
  }

  static async createScratch(env: DatabaseEnv, prefix: string): Promise<ServerTarget> {
    const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
    const target = new ServerTarget(env, name);
    const admin = await target.connect({ database: null });
    try {
      await admin.query(`CREATE DATABASE ${target.sql.quote(name)}`);
    } finally {
      await admin.end();
    }
    return target;
  }

  async dropScratch(): Promise<void> {
    const admin = await this.connect({ database: null });
    try {
      await admin.query(this.sql.dropDatabase(this.database));
    } finally {
      await admin.end();
    }
  }
}

interface Settings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string | undefined;
}

async function connectMysql(settings: Settings): Promise<RawSession> {
  const connection = await createConnection({ ...settings, connectTimeout: 5000 });
  return {
    id: connection.threadId,
    query: async <Row>(sql: string, params?: unknown[]) => (await connection.query(sql, params))[0] as Row[],
    end: () => connection.end().catch(() => connection.destroy()),
  };
}

async function connectPostgres(settings: Settings): Promise<RawSession> {
  const client = new Client({ ...settings, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined); // a session the scenario ends on purpose; the failed query says so
  await client.connect();
  const [{ pid }] = (await client.query('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>;
  return {
    id: pid,
    query: async <Row>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as Row[],
    end: () => client.end().catch(() => undefined),
  };
}

/** Runs `work` with connections that are closed afterwards, whatever happens. */
export async function withConnections<T>(
  target: ServerTarget,
  count: number,
  work: (...connections: RawSession[]) => Promise<T>,
): Promise<T> {
  const connections: RawSession[] = [];
  try {
    for (let i = 0; i < count; i++) connections.push(await target.connect());
    return await work(...connections);
  } finally {
    await Promise.all(connections.map((c) => c.end()));
  }
}

/** Polls `check` until it is true or the deadline passes. */
export async function waitUntil(check: () => Promise<boolean>, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
