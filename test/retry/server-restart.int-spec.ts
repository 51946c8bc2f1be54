import { ErrorCategory, resilienceDetailsOf } from 'nestjs-database-resilience';
import { MariaDbInstance } from '../support/mariadb-instance';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

/** A MariaDB server of the test's own, stopped and started again under a warm pool. */
describe('server restart (a second MariaDB instance)', () => {
  let server: MariaDbInstance;
  let app: ResilientApp;

  beforeAll(async () => {
    server = await MariaDbInstance.create();
    app = await resilientApp({ database: 'test', port: server.port }); // default options
  }, 120_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await server?.destroy();
  });

  it('fails fast while the server is down, and the first call after it is back succeeds', async () => {
    // Warm the pool: several connections idle in it when the server goes away.
    await Promise.all(Array.from({ length: 5 }, () => app.dataSource.query('SELECT SLEEP(0.05)')));

    await server.stop();
    const whileDown = await app.resilience.execute(() => app.dataSource.query('SELECT 1')).catch((e: unknown) => e);
    expect(resilienceDetailsOf(whileDown)?.classified.category).toBe(ErrorCategory.CONNECTION);

    await server.start(); // returns once the server accepts connections
    await expect(app.resilience.execute(() => app.dataSource.query('SELECT 1 AS up'))).resolves.toEqual([{ up: 1 }]);
    await expect(app.dataSource.query('SELECT 2 AS plain')).resolves.toEqual([{ plain: 2 }]);
  }, 120_000);
});
