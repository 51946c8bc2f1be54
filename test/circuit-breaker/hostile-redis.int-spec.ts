import { Logger } from '@nestjs/common';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { register } from 'prom-client';
import { CircuitBreakerRegistry, ErrorStatisticsService } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const URL = 'redis://127.0.0.1:6379';
const SECRET = 'a-shared-secret-of-32-characters-or-more';

function instance(keyPrefix: string, secret?: string): Promise<ResilientApp> {
  return resilientApp({
    database: 'test',
    options: {
      sharedState: { store: { type: 'redis', url: URL, keyPrefix, ...(secret ? { secret } : {}) } },
      healthCheck: { enabled: false },
      alerts: { log: false },
    },
  });
}

/** Until an instance listens on the prefix's channel. */
async function listening(redis: Redis, keyPrefix: string, count: number): Promise<void> {
  await waitUntil(async () => {
    const [, subscribers] = (await redis.pubsub('NUMSUB', `${keyPrefix}:events`)) as [string, number];
    return Number(subscribers) >= count;
  }, 'the instances to subscribe');
}

/**
 * Whoever can write to the shared Redis is untrusted input: keys read at start-up and pub/sub messages are
 * checked one by one; a bad entry is ignored with one warning naming its key or channel, never crashes boot or
 * reaches a request, and never discards the good entries beside it.
 */
describe('what comes back from Redis is untrusted (real Redis)', () => {
  const prefix = `dr-hostile-${process.pid}-${Date.now()}`;
  let redis: Redis;
  let warn: jest.SpyInstance;
  const started: ResilientApp[] = [];
  const start = async (keyPrefix: string, secret?: string) => {
    const app = await instance(keyPrefix, secret);
    started.push(app);
    return app;
  };

  beforeAll(() => {
    redis = new Redis(URL);
  });
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());
  afterAll(async () => {
    for (const app of started) await app.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const warnings = () => warn.mock.calls.map(([m]) => String(m));
  const openMessage = (name: string, extra: object = {}) =>
    JSON.stringify({
      kind: 'breaker',
      origin: 'elsewhere',
      name,
      state: 'open',
      openedAt: Date.now(),
      forced: true,
      ...extra,
    });

  it('a `null` key does not stop an instance from booting; a junk key beside a valid open one: the valid one is adopted', async () => {
    const keyPrefix = `${prefix}-boot`;
    await redis.set(`${keyPrefix}:breaker:reporting`, 'null');
    await redis.set(`${keyPrefix}:breaker:junk`, '{not json');
    await redis.set(`${keyPrefix}:breaker:default`, openMessage('default'));
    const app = await start(keyPrefix);
    expect(app.module.get(CircuitBreakerRegistry).get('default').state).toBe('open');
    const ignored = warnings().filter((m) => m.startsWith('Ignored shared state'));
    expect(ignored).toHaveLength(2);
    expect(ignored).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`key ${keyPrefix}:breaker:reporting`),
        expect.stringContaining(`key ${keyPrefix}:breaker:junk`),
      ]),
    );
    expect(warnings().filter((m) => m.startsWith('Redis unavailable'))).toEqual([]); // Redis is fine: not said
  });

  it('messages with a bad openedAt, without a name, or with 200 unique 10 KB names are ignored; the app keeps answering', async () => {
    const keyPrefix = `${prefix}-messages`;
    const app = await start(keyPrefix);
    await listening(redis, keyPrefix, 1);
    const breakers = app.module.get(CircuitBreakerRegistry);
    const namesBefore = breakers.list().map((b) => b.name);
    const channel = `${keyPrefix}:events`;
    await redis.publish(channel, openMessage('default', { openedAt: 1e20 }));
    await redis.publish(channel, openMessage('default', { openedAt: 'x' }));
    await redis.publish(channel, openMessage('default', { name: undefined }));
    for (let i = 0; i < 200; i++) await redis.publish(channel, openMessage(`${i}-${'n'.repeat(10_000)}`));
    await redis.publish(channel, openMessage('made-up-name'));
    // Then a valid one, to know the ones before it were handled (pub/sub keeps the order).
    await redis.publish(channel, openMessage('default', { forced: false }));
    await waitUntil(async () => breakers.get('default').state === 'open', 'the valid message');
    expect(breakers.list().map((b) => b.name)).toEqual(namesBefore);
    expect(breakers.list().every((b) => b.openedAt === null || !Number.isNaN(Date.parse(b.openedAt)))).toBe(true);
    await expect(register.metrics()).resolves.toContain('db_resilience_circuit_breaker_state');
    expect(app.module.get(ErrorStatisticsService).statistics()).toBeDefined();
    expect(warnings().filter((m) => m.startsWith('Ignored shared state'))).toHaveLength(1); // one per channel
    breakers.reset('default');
  });

  it('with a secret: a forged (unsigned or wrongly signed) message is ignored, a signed one from the fleet applied; without one a forged message steers it', async () => {
    const keyPrefix = `${prefix}-signed`;
    const app = await start(keyPrefix, SECRET);
    const peer = await start(keyPrefix, SECRET);
    const open = await start(`${keyPrefix}-open`);
    await listening(redis, keyPrefix, 2);
    await listening(redis, `${keyPrefix}-open`, 1);
    const breakers = app.module.get(CircuitBreakerRegistry);
    await redis.publish(`${keyPrefix}:events`, openMessage('default'));
    await redis.publish(
      `${keyPrefix}:events`,
      JSON.stringify({ body: openMessage('default'), sig: 'f'.repeat(64) }), // right length, wrong signature
    );
    await redis.publish(`${keyPrefix}-open:events`, openMessage('default'));
    await waitUntil(
      async () => open.module.get(CircuitBreakerRegistry).get('default').state === 'open',
      'the unsigned instance to take the forged message',
    );
    peer.module.get(CircuitBreakerRegistry).forceOpen('default'); // signed by the peer
    await waitUntil(async () => breakers.get('default').state === 'open', 'the signed message');
    // The forged ones came first and were ignored: the state is the peer's (forced), not the forger's.
    // One warning per instance for the channel, not one per message.
    const about = warnings().filter((m) => m.includes(`channel ${keyPrefix}:events`));
    expect(about).toEqual([expect.stringContaining('not signed'), expect.stringContaining('not signed')]);
    peer.module.get(CircuitBreakerRegistry).reset('default');
    await waitUntil(async () => breakers.get('default').state === 'closed', 'the signed reset');
    open.module.get(CircuitBreakerRegistry).reset('default');
    // A planted key is not adopted by an instance that starts later with the secret.
    await redis.set(`${keyPrefix}:breaker:default`, openMessage('default'));
    const late = await start(keyPrefix, SECRET);
    expect(late.module.get(CircuitBreakerRegistry).get('default').state).toBe('closed');
  });

  it('fuzz: arbitrary JSON as pub/sub messages and as start-up keys never throws out of a handler; the app keeps answering', async () => {
    const keyPrefix = `${prefix}-fuzz`;
    const app = await start(keyPrefix);
    await listening(redis, keyPrefix, 1);
    const values = fc.sample(
      fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .record({
            kind: fc.constantFrom('breaker', 'degradation-reset', 'x'),
            origin: fc.oneof(fc.string(), fc.constant(null)),
            name: fc.oneof(fc.string(), fc.constant('default'), fc.integer()),
            state: fc.oneof(fc.constantFrom('open', 'closed', 'half-open'), fc.string()),
            openedAt: fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)),
            forced: fc.oneof(fc.boolean(), fc.string()),
          })
          .map((v) => JSON.stringify(v)),
        fc.string(),
      ),
      { numRuns: 300, seed: 4711 },
    );
    for (const value of values) await redis.publish(`${keyPrefix}:events`, value);
    for (const [i, value] of values.slice(0, 50).entries()) await redis.set(`${keyPrefix}:breaker:f${i}`, value);
    await redis.publish(`${keyPrefix}:events`, openMessage('default', { forced: false, origin: 'last' }));
    const breakers = app.module.get(CircuitBreakerRegistry);
    await waitUntil(async () => breakers.get('default').state === 'open', 'the last, valid message');
    breakers.reset('default');
    await expect(app.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
    const late = await start(keyPrefix); // boots on the fuzzed keys
    await expect(late.dataSource.query('SELECT 1 AS ok')).resolves.toEqual([{ ok: 1 }]);
    expect(
      late.module
        .get(CircuitBreakerRegistry)
        .list()
        .map((b) => b.name),
    ).toEqual(['default']);
  });
});
