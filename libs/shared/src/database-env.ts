/**
 * The demo apps' database settings, from `DATABASE_URL` or the `DB_*` variables (see .env.example).
 * Defaults reach the local server: 127.0.0.1:3306, root, empty password, database `test`.
 */
export interface DatabaseEnv {
  host: string;
  port: number;
  username: string;
  password: string;
  database: string;
}

export const DATABASE_ENV_DEFAULTS: DatabaseEnv = {
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

export function databaseEnv(env: NodeJS.ProcessEnv = process.env): DatabaseEnv {
  if (env.DATABASE_URL) return fromUrl(env.DATABASE_URL);
  return {
    host: env.DB_HOST || DATABASE_ENV_DEFAULTS.host,
    port: env.DB_PORT ? parsePort(env.DB_PORT, 'DB_PORT') : DATABASE_ENV_DEFAULTS.port,
    username: env.DB_USER ?? DATABASE_ENV_DEFAULTS.username,
    password: env.DB_PASSWORD ?? DATABASE_ENV_DEFAULTS.password,
    database: env.DB_NAME || DATABASE_ENV_DEFAULTS.database,
  };
}

function fromUrl(value: string): DatabaseEnv {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DatabaseEnvError('DATABASE_URL is not a URL; expected mysql://user:password@host:port/database');
  }
  if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
    throw new DatabaseEnvError(`DATABASE_URL has protocol ${url.protocol}; expected mysql: or mariadb:`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    host: url.hostname || DATABASE_ENV_DEFAULTS.host,
    port: url.port ? parsePort(url.port, 'DATABASE_URL port') : DATABASE_ENV_DEFAULTS.port,
    username: url.username ? decodeURIComponent(url.username) : DATABASE_ENV_DEFAULTS.username,
    password: decodeURIComponent(url.password),
    database: database || DATABASE_ENV_DEFAULTS.database,
  };
}

function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new DatabaseEnvError(`${name} must be a port number from 1 to 65535`);
  }
  return port;
}
