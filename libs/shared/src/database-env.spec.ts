import { DATABASE_ENV_DEFAULTS, databaseEnv, DatabaseEnvError } from './database-env';

describe('databaseEnv', () => {
  it('defaults to the local server', () => {
    expect(databaseEnv({})).toEqual(DATABASE_ENV_DEFAULTS);
  });

  it('reads DB_* variables', () => {
    expect(databaseEnv({ DB_HOST: 'db', DB_PORT: '3307', DB_USER: 'app', DB_PASSWORD: 'pw', DB_NAME: 'shop' })).toEqual(
      {
        engine: 'mysql',
        host: 'db',
        port: 3307,
        username: 'app',
        password: 'pw',
        database: 'shop',
      },
    );
  });

  it('prefers DATABASE_URL and decodes it', () => {
    expect(databaseEnv({ DATABASE_URL: 'mysql://app:p%40ss@db:3310/shop', DB_HOST: 'ignored' })).toEqual({
      engine: 'mysql',
      host: 'db',
      port: 3310,
      username: 'app',
      password: 'p@ss',
      database: 'shop',
    });
  });

  it('reads a PostgreSQL target from a postgres:// URL or DB_ENGINE, with its own default port and user', () => {
    expect(databaseEnv({ DATABASE_URL: 'postgresql://db/shop' })).toEqual({
      engine: 'postgres',
      host: 'db',
      port: 5432,
      username: 'postgres',
      password: '',
      database: 'shop',
    });
    expect(databaseEnv({ DB_ENGINE: 'postgres' })).toMatchObject({
      engine: 'postgres',
      port: 5432,
      username: 'postgres',
    });
  });

  it('names the bad variable without echoing its value', () => {
    expect(() => databaseEnv({ DATABASE_URL: 'not a url with secret' })).toThrow(DatabaseEnvError);
    expect(() => databaseEnv({ DATABASE_URL: 'not a url with secret' })).toThrow(/^DATABASE_URL is not a URL/);
    expect(() => databaseEnv({ DATABASE_URL: 'mssql://x@y/z' })).toThrow(
      'expected mysql:, mariadb:, postgres: or postgresql:',
    );
    expect(() => databaseEnv({ DB_ENGINE: 'oracle-secret' })).toThrow('DB_ENGINE must be mysql, mariadb or postgres');
    expect(() => databaseEnv({ DB_PORT: 'abc' })).toThrow('DB_PORT must be a port number from 1 to 65535');
  });
});
