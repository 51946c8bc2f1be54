/**
 * The demo apps' database settings, from `DATABASE_URL` or the `DB_*` variables (see .env.example).
 * Defaults reach the local server: 127.0.0.1:3306, root, empty password, database `test`; a `postgres://` URL
 * (or `DB_ENGINE=postgres`) a PostgreSQL server, by default 127.0.0.1:5432 as `postgres`.
 */
export interface DatabaseEnv {
  /** TypeORM's `type`: MySQL/MariaDB through mysql2, or PostgreSQL through pg. */
  engine: DatabaseEngineName;
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
}

export type DatabaseEngineName = 'mysql' | 'postgres';

export const DATABASE_ENV_DEFAULTS: DatabaseEnv = {
  engine: 'mysql',
  host: '127.0.0.1',
  port: 3306,
  username: 'root',
  password: '',
  database: 'test',
};

/** Thrown for a setting that cannot be used; the message names the variable and what it accepts. */
export class DatabaseEnvError extends Error {
  override readonly name = 'DatabaseEnvError';
}

/** What differs on PostgreSQL when a setting is not given. */
const POSTGRES_DEFAULTS = { port: 5432, username: 'postgres' };

export function databaseEnv(env: NodeJS.ProcessEnv = process.env): DatabaseEnv {
  if (env.DATABASE_URL) return fromUrl(env.DATABASE_URL);
  const engine = parseEngine(env.DB_ENGINE);
  const defaults = engine === 'postgres' ? { ...DATABASE_ENV_DEFAULTS, ...POSTGRES_DEFAULTS } : DATABASE_ENV_DEFAULTS;
  return {
    engine,
    host: env.DB_HOST || DATABASE_ENV_DEFAULTS.host,
    port: env.DB_PORT ? parsePort(env.DB_PORT, 'DB_PORT') : defaults.port,
    username: env.DB_USER ?? defaults.username,
    password: env.DB_PASSWORD ?? DATABASE_ENV_DEFAULTS.password,
    database: env.DB_NAME || DATABASE_ENV_DEFAULTS.database,
  };
}

function fromUrl(value: string): DatabaseEnv {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DatabaseEnvError(
      'DATABASE_URL is not a URL; expected mysql://user:password@host:port/database or postgres://…',
    );
  }
  const engine = URL_ENGINES[url.protocol];
  if (engine === undefined) {
    throw new DatabaseEnvError(
      `DATABASE_URL has protocol ${url.protocol}; expected mysql:, mariadb:, postgres: or postgresql:`,
    );
  }
  const defaults = engine === 'postgres' ? { ...DATABASE_ENV_DEFAULTS, ...POSTGRES_DEFAULTS } : DATABASE_ENV_DEFAULTS;
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    engine,
    host: url.hostname || DATABASE_ENV_DEFAULTS.host,
    port: url.port ? parsePort(url.port, 'DATABASE_URL port') : defaults.port,
    username: url.username ? decodeURIComponent(url.username) : defaults.username,
    password: decodeURIComponent(url.password),
    database: database || DATABASE_ENV_DEFAULTS.database,
  };
}

const URL_ENGINES: Record<string, DatabaseEngineName | undefined> = {
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
};

function parseEngine(value: string | undefined): DatabaseEngineName {
  if (value === undefined || value === '' || value === 'mysql' || value === 'mariadb') return 'mysql';
  if (value === 'postgres' || value === 'postgresql') return 'postgres';
  throw new DatabaseEnvError('DB_ENGINE must be mysql, mariadb or postgres');
}

function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new DatabaseEnvError(`${name} must be a port number from 1 to 65535`);
  }
  return port;
}
