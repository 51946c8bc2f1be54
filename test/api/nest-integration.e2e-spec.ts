import { execFileSync } from 'node:child_process';
import type { INestApplication } from '@nestjs/common';
import {
  CircuitBreakerRegistry,
  DegradationService,
  ErrorStatisticsService,
  RESILIENCE_METRICS,
  type DatabaseErrorBody,
} from 'nestjs-database-resilience';
import type { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import type { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { API_TEST_ENV, startApiBehindProxy, type ApiBehindProxy } from '../support/api-behind-proxy';
import { httpLoad, type LoadResult } from '../support/http-load';

const REQUEST_DEADLINE_MS = 1500;
const HEALTH_INTERVAL_MS = 500;
/** Timers and the event loop: what a request may take beyond its deadline on a busy 2-core machine. */
const SCHEDULING_SLACK_MS = 250;

const ENV = {
  ...API_TEST_ENV,
  RESILIENCE_REQUEST_DEADLINE_MS: String(REQUEST_DEADLINE_MS),
  RESILIENCE_HEALTH_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
  RESILIENCE_HEALTH_CHECK_TIMEOUT_MS: '300',
  // Only the health check may close the breaker: no user request is let through as a probe.
  RESILIENCE_BREAKER_RECOVERY_TIMEOUT_MS: '600000',
  RESILIENCE_BREAKER_FIRST_PROBE_AFTER_MS: '600000',
};

/**
 * apps/api as it ships, on a MariaDB server of the test's own behind a fault proxy: deadlocks, a refused server,
 * a hung server (SIGSTOP), with the module's interceptor, exception filter, health check, Terminus indicator and
 * Prometheus metrics.
 */
describe('apps/api under database faults (e2e: interceptor, filter, health check, Terminus, Prometheus)', () => {
  let server: MariaDbInstance;
  let proxy: FaultProxy;
  let app: INestApplication;
  let base: string;
  let running: ApiBehindProxy | undefined;
  /** Undoes a test's fault when the test fails half-way. */
  let afterThisTest: () => void = () => undefined;
  afterEach(() => {
    afterThisTest();
    afterThisTest = () => undefined;
  });

  beforeAll(async () => {
    running = await startApiBehindProxy(ENV);
    ({ server, proxy, app, base } = running);
  }, 120_000);

  afterAll(() => running?.close());

  const breaker = () => app.get(CircuitBreakerRegistry).get('default');
  const timed = async (path: string, init?: RequestInit) => {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, init);
    const text = await response.text();
    return { response, text, ms: performance.now() - started };
  };
  const openAccount = async (owner: string, balance: number) =>
    (await (
      await fetch(`${base}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner, balance }),
      })
    ).json()) as { id: number };
  /**
   * Answered without waiting for the server: a request that touched a hung server would take its whole deadline.
   * Nothing finer is asserted here (a loaded 2-core machine pauses for a GC or another process); the latency of
   * fast failure is measured in bench/ (docs/BENCHMARKS.md).
   */
  const expectAnsweredWithoutTheServer = (load: LoadResult) => {
    expect(load.latencies[load.latencies.length - 1]).toBeLessThan(REQUEST_DEADLINE_MS);
  };
  const metricValue = (text: string, name: string, labels: string) =>
    Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

  it('a transfer that meets a real deadlock is retried and answered 201; metrics and statistics show both', async () => {
    const alice = await openAccount('alice', 1000);
    const bob = await openAccount('bob', 1000);
    const before = await (await fetch(`${base}/metrics`)).text();
    const other = await server.connect('test');
    try {
      // The other transaction is the heavier one (50 undo records), so InnoDB picks the request as the victim.
      await other.query('CREATE TABLE IF NOT EXISTS filler (id INT AUTO_INCREMENT PRIMARY KEY, x INT)');
      await other.query('BEGIN');
      await other.query(`INSERT INTO filler (x) VALUES ${Array.from({ length: 50 }, () => '(1)').join(',')}`);
      await other.query('SELECT id FROM account WHERE id = ? FOR UPDATE', [bob.id]);
      const transfer = fetch(`${base}/transfers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'deadlock-e2e-1' },
        body: JSON.stringify({ fromId: alice.id, toId: bob.id, amount: 100 }),
      });
      // The request holds alice's row and waits for bob's: now close the cycle.
      await waitUntil(async () => {
        const [waiting] = await other.query(
          "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%FOR UPDATE%' AND ID <> CONNECTION_ID()",
        );
        return (waiting as unknown[]).length > 0;
      }, 'the request to wait for the lock');
      await other.query('SELECT id FROM account WHERE id = ? FOR UPDATE', [alice.id]); // deadlock: the request loses
      await other.query('COMMIT');
      const response = await transfer;
      expect(response.status).toBe(201);
      expect(response.headers.get('x-request-id')).toBe('deadlock-e2e-1');
    } finally {
      await other.end();
    }
    const balances = (await (await fetch(`${base}/accounts`)).json()) as Array<{ id: number; balance: number }>;
    expect(balances.find((a) => a.id === alice.id)?.balance).toBe(900); // applied once
    expect(balances.find((a) => a.id === bob.id)?.balance).toBe(1100);

    const after = await (await fetch(`${base}/metrics`)).text();
    const delta = (name: string, labels: string) =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta(RESILIENCE_METRICS.deadlocks, 'database="default"')).toBe(1);
    expect(delta(RESILIENCE_METRICS.retries, 'database="default",outcome="scheduled"')).toBe(1);
    expect(delta(RESILIENCE_METRICS.retries, 'database="default",outcome="recovered"')).toBe(1);
    const statistics = app.get(ErrorStatisticsService);
    expect(statistics.statistics().window.byCategory.deadlock).toBeGreaterThanOrEqual(1);
    expect(statistics.recentErrors(1)[0]).toMatchObject({
      category: 'deadlock',
      outcome: 'recovered',
      requestId: 'deadlock-e2e-1',
      route: 'POST /transfers',
    });
  }, 60_000);

  it('/metrics passes promtool, with the db_resilience_ families and no SQL in any label', async () => {
    await fetch(`${base}/ping`);
    let text = '';
    await waitUntil(async () => {
      text = await (await fetch(`${base}/metrics`)).text();
      return /^db_resilience_health_up\{database="default"\} 1$/m.test(text); // after the first scheduled check
    }, 'a health check');
    execFileSync('promtool', ['check', 'metrics'], { input: text }); // throws with promtool's complaints
    for (const name of Object.values(RESILIENCE_METRICS)) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toMatch(/^db_resilience_query_duration_seconds_count\{database="default",kind="read"\} [1-9]/m);
    expect(text).toMatch(/^db_resilience_pool_connections\{database="default",state="limit"\} 10$/m);
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples.filter((line) => /SELECT|INSERT|UPDATE|account|alice/i.test(line))).toEqual([]);
  });

  it('server refusing: 503 with Retry-After and no connection attempt per request once the breaker is open, the server left alone, back without a restart', async () => {
    expect((await timed('/health')).response.status).toBe(200);
    proxy.refuse(true);
    proxy.closeOpenConnections();
    afterThisTest = () => proxy.refuse(false); // the server back for the next test, even if this one fails
    // 20 callers until the breaker opens: each gets an answer (503), none hangs.
    const opening = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const statuses: number[] = [];
        while (breaker().state !== 'open' && statuses.length < 50)
          statuses.push((await timed('/accounts')).response.status);
        return statuses;
      }),
    );
    expect(breaker().state).toBe('open');
    expect(new Set(opening.flat())).toEqual(new Set([503]));

    // Open: 20 callers for 2 s (from their own thread); only the health check's probes reach the server.
    const acceptedBefore = proxy.accepted;
    const windowStart = Date.now();
    const load = await httpLoad(`${base}/accounts`, 20, 2000);
    const windowMs = Date.now() - windowStart; // the load's 2 s and its thread's start and end
    const connectionAttempts = proxy.accepted - acceptedBefore;
    expect(load.statuses).toEqual({ 503: load.requests });
    // Enough requests to tell "one connection attempt per request" from none, whatever the machine's speed.
    expect(load.requests).toBeGreaterThan(Math.max(200, 20 * connectionAttempts));
    expect(load.missingRetryAfter).toBe(0);
    expectAnsweredWithoutTheServer(load);
    // one per health check in the window, whose length includes the load thread's start (plain TypeORM: thousands)
    expect(connectionAttempts).toBeLessThanOrEqual(Math.ceil(windowMs / HEALTH_INTERVAL_MS) + 1);
    const body = JSON.parse((await timed('/accounts')).text) as DatabaseErrorBody;
    expect(body).toMatchObject({ statusCode: 503, code: 'DATABASE_CIRCUIT_OPEN', requestId: expect.any(String) });

    const health = await timed('/health');
    expect(health.response.status).toBe(503);
    expect(JSON.parse(health.text)).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });

    proxy.refuse(false);
    await waitUntil(
      async () => (await timed('/accounts')).response.status === 200,
      'requests to succeed again',
      10_000,
    );
    expect(breaker().state).toBe('closed');
    // Back, but still degraded for degradation.healthyPeriodMs (non-essential routes stay off): Terminus' 'degraded', 200.
    await waitUntil(async () => (await timed('/health')).response.status === 200, 'the indicator to say so', 5_000);
    expect(JSON.parse((await timed('/health')).text)).toMatchObject({
      status: 'degraded',
      info: { database: { status: 'degraded', degradation: { degraded: true } } },
    });
    await app.get(DegradationService).reset(); // what an operator does from the dashboard
    expect(JSON.parse((await timed('/health')).text)).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' } },
    });
  }, 120_000);

  it('server hung (SIGSTOP): no request waits past its deadline, the breaker opens, 503 without touching the server, back after SIGCONT', async () => {
    // Polled, not asserted at once: a failed test before this one may have left the breaker open for a while.
    await waitUntil(
      async () => (await timed('/accounts')).response.status === 200,
      'the service to answer before the pause',
      15_000,
    );
    server.pause();
    try {
      const opening = (
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const answers: Array<{ status: number; ms: number; code: string }> = [];
            while (breaker().state !== 'open' && answers.length < 20) {
              const { response, text, ms } = await timed('/accounts');
              answers.push({ status: response.status, ms, code: (JSON.parse(text) as DatabaseErrorBody).code });
            }
            return answers;
          }),
        )
      ).flat();
      expect(breaker().state).toBe('open');
      for (const answer of opening) {
        expect(answer.status).toBe(503);
        expect(answer.ms).toBeLessThan(REQUEST_DEADLINE_MS + SCHEDULING_SLACK_MS);
      }
      expect(opening.map((a) => a.code)).toContain('DATABASE_TIMEOUT');
      const acceptedBefore = proxy.accepted;
      const windowStart = Date.now();
      const load = await httpLoad(`${base}/accounts`, 10, 1000);
      const windowMs = Date.now() - windowStart;
      expect(load.statuses).toEqual({ 503: load.requests });
      // the health check's attempts only, not one per request
      expect(proxy.accepted - acceptedBefore).toBeLessThanOrEqual(Math.ceil(windowMs / HEALTH_INTERVAL_MS) + 1);
      expectAnsweredWithoutTheServer(load);
    } finally {
      server.resume();
    }
    await waitUntil(
      async () => (await timed('/accounts')).response.status === 200,
      'requests to succeed again',
      15_000,
    );
  }, 120_000);
});
