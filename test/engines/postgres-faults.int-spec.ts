import {
  CircuitOpenError,
  ErrorCategory,
  resilienceDetailsOf,
  type ResilienceEventOf,
} from 'nestjs-database-resilience';
import type { Client } from 'pg';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { PostgresInstance } from '../../apps/cli/src/support/postgres-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const CALLERS = 20;
const DEADLINE_MS = 500;
/** What a loaded 2-core machine may add to a deadline: the bound asserted, not a latency figure. */
const MARGIN_MS = 1_500;

interface Outcome {
  ok: boolean;
  /** The row a write inserted. */
  id?: number;
  ms: number;
  error?: unknown;
}

/**
 * A PostgreSQL server of the test's own, behind the fault proxy, under 20 callers (half of them writing in a
 * transaction) when it hangs (SIGSTOP) and restarts: no call past its deadline, the breaker opens and turns calls
 * away, and service comes back without a restart of the app. Refused connections, silent ones and the rest are in
 * the shared engine suite (engine-faults.int-spec.ts), run on both engines.
 */
describe('PostgreSQL faults under 20 callers (own instance, fault proxy)', () => {
  let server: PostgresInstance;
  let proxy: FaultProxy;
  let app: ResilientApp;
  let admin: Client;
  let stopLoad = false;
  let sequence = 0;

  beforeAll(async () => {
    server = await PostgresInstance.create();
    admin = await server.connect();
    await admin.query('CREATE TABLE entry (id INT PRIMARY KEY, caller INT NOT NULL)');
    proxy = await new FaultProxy('127.0.0.1', server.port, 'postgres').start();
    app = await resilientApp({
      database: 'test',
      port: proxy.port,
      postgres: { schema: 'public' },
      options: {
        circuitBreaker: { failureThreshold: 5, recoveryTimeoutMs: 300 },
        healthCheck: { enabled: false }, // its checks connect outside the breaker, by design: not calls
        alerts: { log: false },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await app?.close().catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await server?.destroy();
  });

  /** One caller's call: a read, or a write in a transaction, each under the deadline. */
  const call = async (caller: number): Promise<Outcome> => {
    const started = Date.now();
    try {
      if (caller % 2 === 0) {
        await app.resilience.execute(() => app.dataSource.query('SELECT 1'), { deadlineMs: DEADLINE_MS });
        return { ok: true, ms: Date.now() - started };
      }
      const id = ++sequence;
      await app.resilience.transaction((manager) => manager.query('INSERT INTO entry VALUES ($1, $2)', [id, caller]), {
        deadlineMs: DEADLINE_MS,
        operation: 'write-entry',
      });
      return { ok: true, id, ms: Date.now() - started };
    } catch (error) {
      return { ok: false, ms: Date.now() - started, error };
    }
  };

  /** 20 callers calling until `stopLoad`; every outcome kept. */
  const load = () => {
    stopLoad = false;
    const outcomes: Outcome[] = [];
    const running = Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        while (!stopLoad) {
          outcomes.push(await call(caller));
          await new Promise((resolve) => setImmediate(resolve)); // a rejected call is a microtask: let timers run
        }
      }),
    );
    return {
      outcomes,
      stop: async () => {
        stopLoad = true;
        await running;
        return outcomes;
      },
    };
  };

  const succeeded = (outcomes: Outcome[]) => outcomes.filter((o) => o.ok).length;

  it('a hung server (SIGSTOP) mid-traffic: no call past its deadline, then service back after SIGCONT', async () => {
    const traffic = load();
    await waitUntil(async () => succeeded(traffic.outcomes) >= 40, 'traffic to flow');
    const before = traffic.outcomes.length;
    server.pause();
    try {
      await waitUntil(async () => traffic.outcomes.length >= before + 200, '200 calls during the hang', 20_000);
    } finally {
      server.resume();
    }
    const during = traffic.outcomes.slice(before);
    await waitUntil(
      async () => succeeded(traffic.outcomes.slice(before + during.length)) >= 20,
      'service back',
      20_000,
    );
    const outcomes = await traffic.stop();
    expect(outcomes.filter((o) => o.ms > DEADLINE_MS + MARGIN_MS)).toEqual([]);
    const failures = during.filter((o) => !o.ok).map((o) => o.error);
    expect(failures.length).toBeGreaterThan(100);
    // Deadlines first (the statements in flight), then, once the breaker opened, calls turned away at once.
    const categories = failures.map((e) =>
      e instanceof CircuitOpenError ? 'rejected' : resilienceDetailsOf(e)?.classified.category,
    );
    // Given up at the deadline: a plain timeout, or (a COMMIT or autocommit write in flight) an unknown outcome.
    expect(
      categories.some((c) => c === ErrorCategory.STATEMENT_TIMEOUT || c === ErrorCategory.COMMIT_OUTCOME_UNKNOWN),
    ).toBe(true);
    expect(categories).toContain('rejected');
    expect(categories.filter((c) => c === undefined)).toEqual([]);
    const states = app.events
      .filter((e): e is ResilienceEventOf<'breaker-state'> => e.type === 'breaker-state')
      .map((e) => e.state);
    expect(states).toEqual(expect.arrayContaining(['open', 'closed']));
  }, 90_000);

  it('a restart (fast shutdown, start) mid-traffic: connection errors, then service back; no write lost or doubled', async () => {
    const traffic = load();
    await waitUntil(async () => succeeded(traffic.outcomes) >= 40, 'traffic to flow');
    await server.stop();
    const downAt = traffic.outcomes.length;
    await waitUntil(async () => traffic.outcomes.length >= downAt + 50, 'calls while the server is down', 20_000);
    await server.start();
    await waitUntil(async () => succeeded(traffic.outcomes.slice(downAt + 50)) >= 40, 'service back', 20_000);
    const outcomes = await traffic.stop();
    expect(outcomes.filter((o) => o.ms > DEADLINE_MS + MARGIN_MS)).toEqual([]);
    // Every write the app was told succeeded is in the table (once: the primary key forbids a second).
    const told = outcomes.filter((o) => o.ok && o.id !== undefined).map((o) => o.id!);
    expect(told.length).toBeGreaterThan(0);
    admin = await server.connect(); // the admin session died with the restart
    const { rows } = await admin.query('SELECT id FROM entry WHERE id = ANY($1)', [told]);
    expect(rows).toHaveLength(told.length);
  }, 90_000);
});
