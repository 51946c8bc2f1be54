import { createConnection, type Connection, type ConnectionOptions } from 'mysql2/promise';
import type { DatabaseEnv } from '../../../../libs/shared/src/database-env';

/** A server the scenarios talk to, and a scratch database of their own on it. */
export class ServerTarget {
  constructor(
    readonly env: DatabaseEnv,
    readonly database: string,
  ) {}

  get address(): string {
    return `${this.env.host}:${this.env.port}`;
  }

  /** A raw mysql2 connection to the scratch database (or to no database with `database: undefined`). */
  connect(overrides: ConnectionOptions = {}): Promise<Connection> {
    const { host, port, username: user, password } = this.env;
    return createConnection({
      host,
      port,
      user,
      password,
      database: this.database,
      connectTimeout: 5000,
      ...overrides,
    });
  }

  static async createScratch(env: DatabaseEnv, prefix: string): Promise<ServerTarget> {
    const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
    const admin = await new ServerTarget(env, name).connect({ database: undefined });
    try {
      await admin.query(`CREATE DATABASE \`${name}\``);
    } finally {
      await admin.end();
    }
    return new ServerTarget(env, name);
  }

  async dropScratch(): Promise<void> {
    const admin = await this.connect({ database: undefined });
    try {
      await admin.query(`DROP DATABASE IF EXISTS \`${this.database}\``);
    } finally {
      await admin.end();
    }
  }
}

/** Runs `work` with connections that are closed afterwards, whatever happens. */
export async function withConnections<T>(
  target: ServerTarget,
  count: number,
  work: (...connections: Connection[]) => Promise<T>,
): Promise<T> {
  const connections: Connection[] = [];
  try {
    for (let i = 0; i < count; i++) connections.push(await target.connect());
    return await work(...connections);
  } finally {
    await Promise.all(connections.map((c) => c.end().catch(() => c.destroy())));
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
