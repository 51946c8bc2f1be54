import { CircuitBreakerRegistry, CircuitOpenError, type ResilienceEventOf } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

describe('circuit breaker: the server goes away (fault proxy), then comes back', () => {
  let proxy: FaultProxy;
  let app: ResilientApp;
  let breakers: CircuitBreakerRegistry;

  beforeAll(async () => {
    proxy = await new FaultProxy('127.0.0.1', 3306).start();
    app = await resilientApp({
      database: 'test',
      port: proxy.port,
      options: { circuitBreaker: { failureThreshold: 5, recoveryTimeoutMs: 300 }, alerts: { log: false } },
    });
    breakers = app.module.get(CircuitBreakerRegistry);
  });

  afterAll(async () => {
    await proxy?.stop();
    await app?.close();
  });

  const call = () => app.resilience.execute(() => app.dataSource.query('SELECT 1 AS ok'));

  it('opens at its threshold, rejects at once without touching the server, probes, and closes when it is back', async () => {
    await expect(call()).resolves.toEqual([{ ok: 1 }]);
    proxy.refuse(true);
    proxy.closeOpenConnections();

    // 20 callers keep calling while the server is away.
    const outcomes: unknown[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = 0; i < 10; i++) outcomes.push(await call().catch((e: unknown) => e));
      }),
    );
    expect(breakers.get('default').state).not.toBe('closed');
    const rejected = outcomes.filter((o) => o instanceof CircuitOpenError);
    expect(rejected.length).toBeGreaterThan(150); // most of the 200 calls never reached the server
    expect(proxy.accepted).toBeLessThan(30); // plain TypeORM would have opened one connection per call

    // While open, a burst of calls is rejected without a single new connection.
    const before = proxy.accepted;
    breakers.forceOpen('default');
    const burst = await Promise.all(Array.from({ length: 100 }, () => call().catch((e: unknown) => e)));
    expect(burst.every((e) => e instanceof CircuitOpenError)).toBe(true);
    expect((burst[0] as CircuitOpenError).database).toBe('default');
    expect(proxy.accepted).toBe(before);
    breakers.reset('default'); // back to the automatic behaviour, still failing
    await Promise.all(Array.from({ length: 6 }, () => call().catch(() => undefined)));
    expect(breakers.get('default').state).toBe('open');

    // The server comes back: a probe after the recovery timeout finds it, and the breaker closes.
    proxy.refuse(false);
    await waitUntil(
      async () =>
        await call().then(
          () => true,
          () => false,
        ),
      'a call to succeed again',
      10_000,
    );
    expect(breakers.get('default').state).toBe('closed');
    const states = app.events
      .filter((e): e is ResilienceEventOf<'breaker-state'> => e.type === 'breaker-state')
      .map((e) => e.state);
    expect(states).toEqual(expect.arrayContaining(['open', 'half-open', 'closed']));
    expect(breakers.list()).toEqual([expect.objectContaining({ name: 'default', state: 'closed', nextProbeAt: null })]);
  });

  it('caller errors never open the breaker', async () => {
    for (let i = 0; i < 20; i++) await app.dataSource.query('SELEC 1').catch(() => undefined);
    expect(breakers.get('default').state).toBe('closed');
  });
});

describe('circuit breaker probing in the background (probe: background)', () => {
  let proxy: FaultProxy;
  let app: ResilientApp;

  beforeAll(async () => {
    proxy = await new FaultProxy('127.0.0.1', 3306).start();
    app = await resilientApp({
      database: 'test',
      port: proxy.port,
      options: {
        circuitBreaker: { failureThreshold: 3, recoveryTimeoutMs: 200, probe: 'background' },
        alerts: { log: false },
      },
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    await app?.close();
  });

  it('no user call is let through to find out; the module probes, and closes the breaker when the server is back', async () => {
    const breakers = app.module.get(CircuitBreakerRegistry);
    proxy.refuse(true);
    proxy.closeOpenConnections();
    // Three refused connections open it; a pooled connection the server dropped may meet a call first (a lost
    // session of a connection opened before is not counted).
    for (let i = 0; i < 4 && breakers.get('default').state === 'closed'; i++) {
      await app.dataSource.query('SELECT 1').catch(() => undefined);
    }
    expect(breakers.get('default').state).toBe('open');

    // The module's own probes reach the proxy (and fail); user calls keep being rejected, even past the timeout.
    const before = proxy.accepted;
    await waitUntil(async () => proxy.accepted >= before + 2, 'two background probes');
    await expect(app.dataSource.query('SELECT 1')).rejects.toBeInstanceOf(CircuitOpenError);

    proxy.refuse(false);
    await waitUntil(async () => breakers.get('default').state === 'closed', 'a probe to close the breaker', 10_000);
    await expect(app.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
  });
});
