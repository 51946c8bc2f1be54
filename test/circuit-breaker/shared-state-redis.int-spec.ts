import { spawn, type ChildProcess } from 'node:child_process';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CircuitBreakerRegistry, DegradationService } from 'nestjs-database-resilience';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const SHARED_WITHIN_MS = 1000;

/** Until `count` instances listen on the prefix's channel (subscribing finishes after start-up). */
async function listening(url: string, keyPrefix: string, count: number): Promise<void> {
  const redis = new Redis(url);
  try {
    await waitUntil(async () => {
      const [, subscribers] = (await redis.pubsub('NUMSUB', `${keyPrefix}:events`)) as [string, number];
      return Number(subscribers) >= count;
    }, 'the instances to subscribe');
  } finally {
    redis.disconnect();
  }
}

function instance(url: string, keyPrefix: string): Promise<ResilientApp> {
  return resilientApp({
    database: 'test',
    options: { circuitBreaker: { store: { type: 'redis', url, keyPrefix } }, alerts: { log: false } },
  });
}

describe('circuit breakers shared through Redis, two app instances', () => {
  const keyPrefix = `dr-test-${process.pid}-${Date.now()}`;
  let a: ResilientApp;
  let b: ResilientApp;

  beforeAll(async () => {
    a = await instance('redis://127.0.0.1:6379', keyPrefix);
    b = await instance('redis://127.0.0.1:6379', keyPrefix);
    await listening('redis://127.0.0.1:6379', keyPrefix, 2);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${keyPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('a breaker opened on one instance is open on the other within 1 s, and its closing likewise', async () => {
    const breakersB = b.module.get(CircuitBreakerRegistry);
    a.module.get(CircuitBreakerRegistry).forceOpen('default');
    await waitUntil(
      async () => breakersB.get('default').state === 'open',
      'B to see the breaker open',
      SHARED_WITHIN_MS,
    );
    await expect(b.dataSource.query('SELECT 1')).rejects.toMatchObject({ name: 'CircuitOpenError' });
    a.module.get(CircuitBreakerRegistry).reset('default');
    await waitUntil(async () => breakersB.get('default').state === 'closed', 'B to see it closed', SHARED_WITHIN_MS);
    await expect(b.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
  });

  it('an instance that starts while a breaker is open starts with it open', async () => {
    a.module.get(CircuitBreakerRegistry).forceOpen('default');
    const redis = new Redis('redis://127.0.0.1:6379');
    await waitUntil(
      async () => ((await redis.get(`${keyPrefix}:breaker:default`)) ?? '').includes('"open"'),
      'the shared key',
    );
    redis.disconnect();
    const late = await instance('redis://127.0.0.1:6379', keyPrefix);
    try {
      expect(late.module.get(CircuitBreakerRegistry).get('default').state).toBe('open');
    } finally {
      a.module.get(CircuitBreakerRegistry).reset('default');
      await late.close();
    }
  });

  it('a degradation reset on one instance resets the other', async () => {
    b.module.get(DegradationService).degrade('maintenance');
    a.module.get(DegradationService).reset();
    await waitUntil(
      async () => !b.module.get(DegradationService).isDegraded(),
      'B to leave degradation',
      SHARED_WITHIN_MS,
    );
  });
});

describe('circuit breakers with a Redis that goes away mid-test', () => {
  let redis: ChildProcess;
  let port: number;
  let a: ResilientApp;
  let b: ResilientApp;

  beforeAll(async () => {
    port = await closedPort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 50 });
    await waitUntil(
      async () =>
        probe.ping().then(
          () => true,
          () => false,
        ),
      'the second redis-server',
    );
    probe.disconnect();
    a = await instance(`redis://127.0.0.1:${port}`, 'dr-own');
    b = await instance(`redis://127.0.0.1:${port}`, 'dr-own');
    await listening(`redis://127.0.0.1:${port}`, 'dr-own', 2);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    redis?.kill('SIGKILL');
  });

  it('falls back to local state with one warning, and never blocks calls', async () => {
    a.module.get(CircuitBreakerRegistry).forceOpen('default');
    await waitUntil(
      async () => b.module.get(CircuitBreakerRegistry).get('default').state === 'open',
      'sharing to work first',
      SHARED_WITHIN_MS,
    );
    a.module.get(CircuitBreakerRegistry).reset('default');
    await waitUntil(
      async () => b.module.get(CircuitBreakerRegistry).get('default').state === 'closed',
      'B closed',
      SHARED_WITHIN_MS,
    );

    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const exited = new Promise((resolve) => redis.once('exit', resolve));
      redis.kill('SIGTERM');
      await exited;
      // Redis is gone: each instance goes on with its own state, and its calls go on.
      a.module.get(CircuitBreakerRegistry).forceOpen('default');
      for (let i = 0; i < 20; i++) await expect(b.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
      await expect(a.dataSource.query('SELECT 1')).rejects.toMatchObject({ name: 'CircuitOpenError' });
      a.module.get(CircuitBreakerRegistry).reset('default');
      await expect(a.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
      await waitUntil(
        async () => warn.mock.calls.some(([m]) => String(m).startsWith('Redis unavailable')),
        'the warning',
      );
      const warnings = warn.mock.calls.filter(([m]) => String(m).startsWith('Redis unavailable'));
      expect(warnings.length).toBeLessThanOrEqual(2); // once per instance, not once per call
    } finally {
      warn.mockRestore();
    }
  });
});
