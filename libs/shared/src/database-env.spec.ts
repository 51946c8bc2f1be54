import { DATABASE_ENV_DEFAULTS, databaseEnv, DatabaseEnvError } from './database-env';

describe('databaseEnv', () => {
  it('defaults to the local server', () => {
    expect(databaseEnv({})).toEqual(DATABASE_ENV_DEFAULTS);
  });

  it('reads DB_* variables', () => {
    expect(databaseEnv({ DB_HOST: 'db', DB_PORT: '3307', DB_USER: 'app', DB_PASSWORD: 'pw', DB_NAME: 'shop' })).toEqual(
      {
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
      host: 'db',
      port: 3310,
      username: 'app',
      password: 'p@ss',
      database: 'shop',
    });
  });

  it('names the bad variable without echoing its value', () => {
    expect(() => databaseEnv({ DATABASE_URL: 'not a url with secret' })).toThrow(DatabaseEnvError);
    expect(() => databaseEnv({ DATABASE_URL: 'not a url with secret' })).toThrow(/^DATABASE_URL is not a URL/);
    expect(() => databaseEnv({ DATABASE_URL: 'postgres://x@y/z' })).toThrow('expected mysql: or mariadb:');
    expect(() => databaseEnv({ DB_PORT: 'abc' })).toThrow('DB_PORT must be a port number from 1 to 65535');
  });
});
