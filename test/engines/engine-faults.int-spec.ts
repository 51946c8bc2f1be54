import {
  CircuitBreakerRegistry,
  CircuitOpenError,
  ErrorCategory,
  ErrorClassifier,
  PoolMonitor,
  resilienceDetailsOf,
  type ResilienceEventOf,
} from 'nestjs-database-resilience';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { ENGINES, type EngineFixture, type EngineSpace } from '../support/engine-fixtures';
import type { ResilientApp } from '../support/resilient-app';

const CALLERS = 20;
const DEADLINE_MS = 500;
/** What a loaded 2-core machine may add to a deadline: the bound asserted, not a latency figure. */
const MARGIN_MS = 1_500;

const categoryOf = (error: unknown) =>
  resilienceDetailsOf(error)?.classified.category ?? new ErrorClassifier().classify(error).category;
const recorded = (app: ResilientApp) =>
  app.events.filter((e): e is ResilienceEventOf<'attempt-failed'> => e.type === 'attempt-failed');
const failureOf = (work: Promise<unknown>) =>
  work.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );

/**
 * The fault and edge behaviour of the guard, one spec for every engine: a difference between MariaDB and
 * PostgreSQL is a failing test here. Each engine's own traps (InnoDB's report, a COMMIT answered ROLLBACK...)
 * keep specs of their own.
 */
describe.each(ENGINES)('%s: the guard under faults (shared engine suite)', (_name, engine: EngineFixture) => {
  let space: EngineSpace;
  let app: ResilientApp;
  let next = 0;
  const sessionOf = async () => Number((await app.dataSource.query(engine.sessionId))[0].id);
  const entries = async (id: number) =>
    Number((await space.admin.query(`SELECT COUNT(*) AS n FROM entry WHERE id = ${id}`))[0].n);

  beforeAll(async () => {
    space = await engine.setUp('dr_eng_faults');
    app = await space.app({
      poolSize: 4,
      options: {
        queries: { timeoutMs: 300 },
        retry: { baseDelayMs: 5, maxDelayMs: 20 },
        healthCheck: { enabled: false },
        alerts: { log: false },
      },
    });
  });

  afterAll(async () => {
    await app?.close();
    await space?.tearDown();
  });

  beforeEach(() => {
    app.events.length = 0;
  });

  it('a statement past queries.timeoutMs outside a unit of work: recorded once, stopped on the server, its connection never pooled', async () => {
    const marker = `outside_${Date.now()}`;
    const victim = await sessionOf();
    const error = await failureOf(app.dataSource.query(`${engine.sleep(3)} /* ${marker} */`));
    expect(categoryOf(error)).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    expect(recorded(app).map((e) => e.error.category)).toEqual([ErrorCategory.STATEMENT_TIMEOUT]);
    await waitUntil(
      async () => Number((await space.admin.query(engine.running(marker)))[0].n) === 0,
      'the statement to end',
    );
    // The next borrower is served on a fresh session: the one given up on was destroyed, not pooled.
    expect(await sessionOf()).not.toBe(victim);
  });

  it('a deadline inside a unit of work: the unit fails once as a timeout, recorded once, nothing written', async () => {
    const id = ++next;
    const error = await failureOf(
      app.resilience.transaction(
        async (manager) => {
          await manager.query(engine.insertEntry, [id, 'deadline']);
          await manager.query(engine.sleep(3));
        },
        { deadlineMs: DEADLINE_MS, operation: 'slow-unit' },
      ),
    );
    expect(categoryOf(error)).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    expect(recorded(app).map((e) => [e.operation, e.error.category])).toEqual([
      ['slow-unit', ErrorCategory.STATEMENT_TIMEOUT],
    ]);
    expect(await entries(id)).toBe(0);
    expect(await sessionOf()).toEqual(expect.any(Number)); // the pool serves on
  });

  it('a connection killed mid-transaction: the unit re-runs whole on a new connection and commits once', async () => {
    const id = ++next;
    const sessions: number[] = [];
    await app.resilience.transaction(
      async (manager) => {
        const [{ id: session }] = await manager.query(engine.sessionId);
        sessions.push(Number(session));
        await manager.query(engine.insertEntry, [id, 'killed']);
        if (sessions.length === 1) {
          await space.admin.query(engine.kill(Number(session)));
          await manager.query('SELECT 1'); // the dead connection fails here, before COMMIT
        }
      },
      { operation: 'killed-midway' },
    );
    expect(sessions).toHaveLength(2);
    expect(sessions[1]).not.toBe(sessions[0]);
    expect(await entries(id)).toBe(1);
    expect(recorded(app).map((e) => [e.error.category, e.willRetry])).toEqual([[ErrorCategory.CONNECTION, true]]);
  });

  it('a read-only refusal: the connection is destroyed, so the next write is served by a writable session', async () => {
    const runner = app.dataSource.createQueryRunner();
    await runner.query(engine.readOnlySession);
    const error = await failureOf(runner.query(engine.insertEntry, [++next, 'refused']));
    await runner.release();
    expect(categoryOf(error)).toBe(ErrorCategory.READ_ONLY);
    const id = ++next;
    for (let i = 0; i < 4; i++) await app.dataSource.query(engine.insertEntry, [id * 100 + i, 'after']); // every pooled one
    expect(await entries(id * 100)).toBe(1);
  });

  describe('through a fault proxy', () => {
    let proxy: FaultProxy;
    let proxied: ResilientApp;

    beforeAll(async () => {
      proxy = await new FaultProxy('127.0.0.1', engine.port, engine.protocol).start();
      proxied = await space.app({
        port: proxy.port,
        options: {
          circuitBreaker: { failureThreshold: 5, recoveryTimeoutMs: 300 },
          retry: { baseDelayMs: 5, maxDelayMs: 20 },
          healthCheck: { enabled: false }, // its checks connect outside the breaker, by design: not calls
          alerts: { log: false },
        },
      });
    });

    afterAll(async () => {
      await proxied?.close();
      await proxy?.stop();
    });

    it('a COMMIT cut after it reached the server, with an idempotency key: settled as committed, written once', async () => {
      const id = ++next;
      proxy.cutAfterNextCommit();
      await proxied.resilience.transaction((manager) => manager.query(engine.insertEntry, [id, 'cut']), {
        idempotencyKey: `cut-${id}-${process.pid}`,
        operation: 'cut-commit',
      });
      expect(proxy.faultsInjected).toBeGreaterThan(0);
      expect(await entries(id)).toBe(1);
    });

    it('open connections go silent under 20 callers: no call past its deadline, and service goes on on new connections', async () => {
      const outcomes: Array<{ ok: boolean; ms: number }> = [];
      let stop = false;
      const callers = Array.from({ length: CALLERS }, async () => {
        while (!stop) {
          const started = Date.now();
          const ok = await proxied.resilience
            .execute(() => proxied.dataSource.query('SELECT 1'), { deadlineMs: DEADLINE_MS })
            .then(
              () => true,
              () => false,
            );
          outcomes.push({ ok, ms: Date.now() - started });
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      await waitUntil(async () => outcomes.length >= 40, 'traffic to flow');
      proxy.blackholeOpenConnections();
      const from = outcomes.length;
      await waitUntil(
        async () => outcomes.slice(from).filter((o) => o.ok).length >= 40,
        'service on new connections',
        20_000,
      );
      stop = true;
      await Promise.all(callers);
      expect(outcomes.filter((o) => o.ms > DEADLINE_MS + MARGIN_MS)).toEqual([]);
    });

    it('refused connections: the breaker opens and turns calls away without one connection attempt', async () => {
      const breakers = proxied.module.get(CircuitBreakerRegistry);
      proxy.refuse(true);
      proxy.closeOpenConnections();
      let stop = false;
      const errors: unknown[] = [];
      const callers = Array.from({ length: CALLERS }, async () => {
        while (!stop) {
          await proxied.dataSource.query('SELECT 1').catch((error: unknown) => errors.push(error));
          await new Promise((resolve) => setImmediate(resolve));
        }
      });
      try {
        await waitUntil(async () => breakers.get('default').state === 'open', 'the breaker to open');
        breakers.forceOpen('default');
        // Calls admitted before it opened may still wait for the pool (and connect when they get a slot): nothing
        // admitted before is left once no caller waits for a connection and none is lent out.
        const pools = proxied.module.get(PoolMonitor);
        await waitUntil(
          async () => {
            const figures = pools.figures().default;
            return figures !== undefined && figures.waiting === 0 && figures.inUse === 0;
          },
          `the calls admitted before to end (${JSON.stringify(pools.figures().default)})`,
        );
        const attempts = proxy.accepted;
        const from = errors.length;
        await waitUntil(async () => errors.length >= from + 200, '200 calls while open');
        expect(proxy.accepted).toBe(attempts);
        expect(errors.slice(from).every((error) => error instanceof CircuitOpenError)).toBe(true);
      } finally {
        stop = true;
        await Promise.all(callers);
        breakers.reset('default');
        proxy.refuse(false);
      }
      await proxied.dataSource.query('SELECT 1');
    });
  });

  describe('a replica behind a fault proxy (TypeORM replication)', () => {
    let proxy: FaultProxy;
    let replicated: ResilientApp;
    /** A read as TypeORM routes it under replication (a 'slave' query runner), in a read-only unit of work. */
    const read = () =>
      replicated.resilience.execute(
        async () => {
          const runner = replicated.dataSource.createQueryRunner('slave');
          try {
            return await runner.query('SELECT 1 AS one');
          } finally {
            await runner.release();
          }
        },
        { readOnly: true, retry: true },
      );

    beforeAll(async () => {
      proxy = await new FaultProxy('127.0.0.1', engine.port, engine.protocol).start();
      replicated = await space.app({
        replicaPort: proxy.port,
        options: {
          circuitBreaker: { failureThreshold: 2 },
          failover: { replicaRetryMs: 300 },
          healthCheck: { enabled: false },
          alerts: { log: false },
        },
      });
    });

    afterAll(async () => {
      await replicated?.close();
      await proxy?.stop();
    });

    it("reads fall back to the primary while the replica is down, the primary's breaker hears nothing of it, and they return", async () => {
      await read();
      expect(proxy.accepted).toBeGreaterThan(0); // served by the replica
      proxy.refuse(true);
      proxy.closeOpenConnections();
      for (let i = 0; i < 10; i++) expect(await read()).toEqual([expect.objectContaining({ one: 1 })]);
      const breaker = replicated.module.get(CircuitBreakerRegistry).get('default');
      expect(breaker.state).toBe('closed');
      expect(breaker.snapshot().consecutiveFailures).toBe(0);
      proxy.refuse(false);
      const before = proxy.accepted;
      await waitUntil(async () => {
        await read();
        return proxy.accepted > before;
      }, 'reads back on the replica');
    });
  });
});
