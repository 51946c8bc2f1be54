import { CircuitBreakerRegistry, resilienceDetailsOf } from 'nestjs-database-resilience';
import { ServerTarget, type RawSession } from '../../apps/cli/src/support/server-target';
import { databaseEnv } from '../../libs/shared/src/database-env';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const DEADLINE_MS = 800;

/**
 * A row held past every caller's deadline is contention, not an outage: 20 callers (pool of 5) each sleep a
 * quarter of their deadline on the server, then wait for the row; they fail at their deadline (the server's
 * statement limit, the client's timer or the queue for the pool), and the breaker stays closed — the server
 * answered all along. Before, each deadline counted as the server's failure: the breaker opened and turned away
 * every request of a healthy server (seen on PostgreSQL in the chaos run).
 */
describe.each([
  ['MariaDB', databaseEnv({ DB_ENGINE: 'mysql' })],
  ['PostgreSQL', databaseEnv({ DB_ENGINE: 'postgres' })],
])('a row held past the deadline on %s: the deadlines fail, the breaker stays closed', (_name, env) => {
  let target: ServerTarget;
  let app: ResilientApp;
  let holder: RawSession;

  beforeAll(async () => {
    target = await ServerTarget.createScratch(env, 'dr_contention');
    app = await resilientApp({
      database: target.database,
      port: env.port,
      poolSize: 5,
      postgres: env.engine === 'postgres' ? { schema: 'public' } : undefined,
      options: { circuitBreaker: { failureThreshold: 3 }, healthCheck: { enabled: false } },
    });
    await app.dataSource.query('CREATE TABLE hot (id INT PRIMARY KEY, n INT NOT NULL)');
    await app.dataSource.query('INSERT INTO hot VALUES (1, 0), (2, 0)');
    holder = await target.connect();
  }, 60_000);

  afterAll(async () => {
    await holder?.end();
    await app?.close();
    await target?.dropScratch();
  });

  it('20 callers wait for the row until their deadline; no breaker opens; service is there once the row is free', async () => {
    await holder.query('BEGIN');
    await holder.query('SELECT n FROM hot WHERE id = 1 FOR UPDATE');
    const breaker = app.module.get(CircuitBreakerRegistry).get('default');
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () =>
        app.resilience
          .transaction(
            async (manager) => {
              await manager.query(target.sql.sleep(DEADLINE_MS / 4000, 'contention_probe'));
              await manager.query('UPDATE hot SET n = n + 1 WHERE id = 1');
            },
            { deadlineMs: DEADLINE_MS, retry: false },
          )
          .then(
            () => 'committed',
            (error: unknown) => resilienceDetailsOf(error)?.classified.category ?? String(error),
          ),
      ),
    );
    await holder.query('ROLLBACK');

    expect(outcomes).toEqual(Array(20).fill('statement_timeout'));
    expect(app.events.filter((e) => e.type === 'breaker-state')).toEqual([]);
    expect(breaker.state).toBe('closed');
    await app.resilience.transaction((manager) => manager.query('UPDATE hot SET n = n + 1 WHERE id = 1'));
    expect(Number((await app.dataSource.query('SELECT n FROM hot WHERE id = 1'))[0].n)).toBe(1);
  }, 60_000);
});
