import type { ChildProcess } from 'node:child_process';
import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CircuitBreakerRegistry, DegradationService } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { ownRedisServer } from '../support/redis-server';
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
    options: { sharedState: { store: { type: 'redis', url, keyPrefix } }, alerts: { log: false } },
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
  let url: string;
  let a: ResilientApp;
  let b: ResilientApp;

  beforeAll(async () => {
    const own = await ownRedisServer();
    redis = own.process;
    url = own.url;
    a = await instance(url, 'dr-own');
    b = await instance(url, 'dr-own');
    await listening(url, 'dr-own', 2);
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

describe('Redis outage warnings follow the real state', () => {
  it('a command timeout, Redis answering again (nothing published), a real outage, Redis back: each said once, in order', async () => {
    let own = await ownRedisServer();
    const app = await resilientApp({
      database: 'test',
      options: {
        sharedState: { store: { type: 'redis', url: own.url, keyPrefix: 'dr-flap', timeoutMs: 100 } },
        healthCheck: { enabled: false },
        alerts: { log: false },
      },
    });
    const lines: string[] = []; // warnings and logs in the order they came
    const keep = (message: unknown) => void lines.push(String(message));
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(keep);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(keep);
    const said = () =>
      lines
        .filter((m) => m.startsWith('Redis unavailable') || m.startsWith('Redis is back'))
        .map((m) => (m.startsWith('Redis is back') ? 'back' : 'down'));
    const breakers = app.module.get(CircuitBreakerRegistry);
    try {
      own.process.kill('SIGSTOP'); // Redis stops answering: a publish times out
      breakers.forceOpen('default');
      await waitUntil(async () => said().length === 1, 'the first warning');
      own.process.kill('SIGCONT'); // answers again; the connection never dropped, nothing is published
      await waitUntil(async () => said().length === 2, 'Redis to be back');
      own.process.kill('SIGKILL'); // a real outage: said without any publish
      await waitUntil(async () => said().length === 3, 'the outage to be announced');
      own = await ownRedisServer(own.port);
      await waitUntil(async () => said().length === 4, 'Redis back after the outage', 15_000);
      expect(said()).toEqual(['down', 'back', 'down', 'back']);
    } finally {
      warn.mockRestore();
      log.mockRestore();
      own.process.kill('SIGKILL');
      await app.close();
    }
  });
});
