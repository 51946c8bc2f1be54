import {
  CircuitBreakerRegistry,
  DatabaseResilienceHealthIndicator,
  DeadlineExceededError,
  DegradationService,
  DatabaseHealthService,
  type ResilienceEventOf,
} from 'nestjs-database-resilience';
import { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const INTERVAL_MS = 300;
const TIMEOUT_MS = 200;
const STATEMENT_TIMEOUT_MS = 400;

describe('scheduled health check on a server of its own (SIGSTOP)', () => {
  let server: MariaDbInstance;
  let app: ResilientApp;
  let health: DatabaseHealthService;
  let plain: ResilientApp;

  beforeAll(async () => {
    server = await MariaDbInstance.create();
    app = await resilientApp({
      database: 'test',
      port: server.port,
      options: {
        healthCheck: { intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS },
        circuitBreaker: { failureThreshold: 2, recoveryTimeoutMs: 600_000 },
        alerts: { log: false },
      },
    });
    health = app.module.get(DatabaseHealthService);
    plain = await resilientApp({
      database: 'test',
      port: server.port,
      options: {
        healthCheck: { enabled: false },
        queries: { timeoutMs: STATEMENT_TIMEOUT_MS },
        alerts: { log: false },
      },
    });
    // Pooled connections, fresh (no ping before the next statement): one for a statement, one for the KILL QUERY
    // sent after it, one for a pair of statements.
    await Promise.all([1, 2, 3].map(() => plain.dataSource.query('SELECT SLEEP(0.05)')));
  }, 120_000);

  afterAll(async () => {
    await plain?.close();
    await app?.close();
    await server?.destroy();
  });

  const checks = () => app.events.filter((e): e is ResilienceEventOf<'health-checked'> => e.type === 'health-checked');

  it('runs on its interval and reports latency and pool figures', async () => {
    await waitUntil(async () => checks().length >= 2, 'two scheduled runs', 5_000);
    const [result] = health.lastResults();
    expect(result).toMatchObject({
      database: 'default',
      status: 'up',
      error: null,
      breaker: 'closed',
      pool: expect.objectContaining({ limit: 10 }),
      replicas: [],
    });
    expect(result.latencyMs).toBeGreaterThan(0);
  });

  it('a run asked for while one runs joins it: runs never overlap', () => {
    const first = health.check();
    expect(health.check()).toBe(first);
    return first;
  });

  it('reports a hung server down within its timeout, opens the breaker and degrades; up again after SIGCONT', async () => {
    server.pause();
    try {
      // A run begun before the pause may still finish 'up' (check() joins it): poll for one begun after.
      let result = (await health.check())[0];
      await waitUntil(async () => (result = (await health.check())[0]).status === 'down', 'a check to say down', 5_000);
      expect(result).toMatchObject({ status: 'down', error: { category: 'connection', code: 'HEALTH_CHECK_TIMEOUT' } });
      expect(result.latencyMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      // Said while the server is still stopped (it resumes below): the timeout, not the pause, ended the check.
      await waitUntil(
        async () => app.module.get(CircuitBreakerRegistry).get('default').state === 'open',
        'failed checks to open the breaker',
        5_000,
      );
      expect(app.module.get(DegradationService).state()).toMatchObject({ degraded: true });
      const indicator = await app.module.get(DatabaseResilienceHealthIndicator).isHealthy('db');
      expect(indicator.db.status).toBe('down');
      // A plain statement (no unit of work, no request) on the hung server gives up at queries.timeoutMs;
      // so does a second one queued behind it on the same connection.
      const statementStarted = performance.now();
      const error = await plain.dataSource.query('SELECT 1').catch((e: unknown) => e);
      expect((error as { driverError?: unknown }).driverError).toBeInstanceOf(DeadlineExceededError);
      expect(performance.now() - statementStarted).toBeLessThan(STATEMENT_TIMEOUT_MS + 300);
      const runner = plain.dataSource.createQueryRunner();
      try {
        const pairStarted = performance.now();
        const settled = await Promise.allSettled([runner.query('SELECT 1'), runner.query('SELECT 2')]);
        expect(settled.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
        expect(performance.now() - pairStarted).toBeLessThan(STATEMENT_TIMEOUT_MS + 300);
      } finally {
        await runner.release();
      }
    } finally {
      server.resume();
    }
    // The next passing run closes the breaker at once: no user request is sacrificed as a probe.
    await waitUntil(
      async () => app.module.get(CircuitBreakerRegistry).get('default').state === 'closed',
      'a passing check to close the breaker',
      10_000,
    );
    expect(health.lastResults()[0].status).toBe('up');
    await expect(app.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
  }, 60_000);
});
