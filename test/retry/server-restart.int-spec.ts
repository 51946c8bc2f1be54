import { DeadlineExceededError, ErrorCategory, resilienceDetailsOf } from 'nestjs-database-resilience';
import { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

/** A MariaDB server of the test's own, stopped, started again and frozen under a warm pool. */
describe('a server of our own: restart and hang', () => {
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

  it('a hung server (SIGSTOP): a call with a deadline gives up soon after it, instead of waiting forever', async () => {
    await app.dataSource.query('SELECT 1'); // a pooled connection to the server about to freeze
    server.pause();
    try {
      const error = await app.resilience
        .execute(() => app.dataSource.query('SELECT 1'), { deadlineMs: 300 })
        .catch((e: unknown) => e);
      // Through TypeORM on the pooled connection, or straight from the borrow when the pool had to open a new one.
      const deadline = (error as { driverError?: unknown }).driverError ?? error;
      expect(deadline).toBeInstanceOf(DeadlineExceededError);
      expect(resilienceDetailsOf(error)?.classified.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
      // Answered while the server is still stopped (it resumes below): the deadline, not the pause, ended it.
    } finally {
      server.resume();
    }
    await expect(app.dataSource.query('SELECT 3 AS after')).resolves.toEqual([{ after: 3 }]);
  }, 60_000);
});
