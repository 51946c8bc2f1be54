import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisFleetStore } from '../../libs/database-resilience/src/shared-state/fleet-store';
import { RedisSharedStateStore } from '../../libs/database-resilience/src/shared-state/redis-shared-state-store';

const URL = 'redis://127.0.0.1:6379';

/** What comes back from Redis for the fleet view and the fleet's alerts is untrusted: junk is skipped, said once. */
describe('fleet view and alert counts: hostile entries in Redis', () => {
  const prefix = `dr-hostile-fleet-${process.pid}`;
  const redis = new Redis(URL);
  let store: RedisFleetStore;
  let warn: jest.SpyInstance;

  beforeAll(async () => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    store = new RedisFleetStore(URL, prefix, 1000);
    await store.ready(5000);
  });

  afterAll(async () => {
    warn.mockRestore();
    await store.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('skips stream entries that are not the module’s (junk, null, wrong shape, huge, script) and keeps the good ones', async () => {
    const good = {
      at: new Date().toISOString(),
      instance: 'api-1',
      database: 'default',
      category: 'deadlock',
      severity: 'high',
      code: 'ER_LOCK_DEADLOCK',
      message: 'Deadlock found',
    };
    expect(await store.append([good])).toBe(true);
    const stream = `${prefix}:fleet:errors`;
    for (const value of [
      'not json',
      'null',
      JSON.stringify({ ...good, instance: '<script>alert(1)</script>' }),
      JSON.stringify({ ...good, message: 'x'.repeat(10_000) }),
      JSON.stringify({ ...good, extra: 'field' }),
      JSON.stringify([good]),
    ]) {
      await redis.xadd(stream, '*', 'r', value);
    }
    await redis.xadd(stream, '*', 'other', 'field');
    const records = await store.recent(100);
    expect(records).toEqual([good]);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('fleet view')).length).toBe(1); // said once
  });

  it('skips count fields that are not the module’s and counts the good ones', async () => {
    const minute = Date.now() - (Date.now() % 60_000);
    const key = `${prefix}:fleet:m:${minute}`;
    await redis.hset(key, 'api-1\tdefault\tdeadlock\thigh', '3');
    await redis.hset(key, 'api-1\tdefault\tdeadlock\thigh\textra', '3');
    await redis.hset(key, 'api-2\tdefault\tdeadlock\thigh', 'many');
    await redis.hset(key, 'api 3\tdefault\tdeadlock\thigh', '1');
    await redis.hset(key, 'api-4\tdefault\tdeadlock\thigh', '-5');
    const counts = await store.counts([minute], 'minute');
    expect(counts).toEqual([
      { instance: 'api-1', database: 'default', category: 'deadlock', severity: 'high', errors: 3 },
    ]);
  });

  it('skips hot-spot fields that are not the module’s (wrong kind, bad names, tabs, huge, not a count) and sums the good ones', async () => {
    const hour = Date.now() - (Date.now() % 3_600_000);
    const written = await store.append(
      [],
      [{ kind: 'slow', instance: 'api-1', database: 'default', fingerprint: 'SELECT ?', count: 2, totalMs: 300 }],
    );
    expect(written).toBe(true);
    const key = `${prefix}:fleet:hs:${hour}`;
    await redis.hset(key, 'x\tapi-1\tdefault\tSELECT ?\tn', '5');
    await redis.hset(key, 's\t<script>\tdefault\tSELECT ?\tn', '5');
    await redis.hset(key, `s\tapi-1\tdefault\t${'x'.repeat(5000)}\tn`, '5');
    await redis.hset(key, 's\tapi-1\tdefault\tSELECT ?\textra\tn', '5');
    await redis.hset(key, 'd\tapi-1\tdefault\tSELECT ?\tms', '5'); // a deadlock has no duration
    await redis.hset(key, 'd\tapi-2\tdefault\tUPDATE t SET a = ?\tn', 'NaN');
    await redis.hset(key, 'd\tapi-2\tdefault\tUPDATE t SET a = ?\tn', '-1');
    await redis.hset(key, 'd\tapi-3\tdefault\tUPDATE t SET a = ?\tn', '4');
    expect(await store.hotSpots([hour])).toEqual([
      { kind: 'slow', instance: 'api-1', database: 'default', fingerprint: 'SELECT ?', count: 2, totalMs: 300 },
      {
        kind: 'deadlock',
        instance: 'api-3',
        database: 'default',
        fingerprint: 'UPDATE t SET a = ?',
        count: 4,
        totalMs: 0,
      },
    ]);
  });

  it("an alert's fleet count that is not a count is ignored (the instance counts its own)", async () => {
    const shared = new RedisSharedStateStore(URL, prefix, 1000);
    try {
      await shared.ready(5000);
      await redis.set(`${prefix}:alert:severe-error:default:count`, '1e9; DROP');
      expect(await shared.takeAlertCount('severe-error:default')).toBeUndefined();
      await redis.set(`${prefix}:alert:severe-error:default:count`, '4');
      expect(await shared.takeAlertCount('severe-error:default')).toBe(4);
      expect(await shared.takeAlertCount('severe-error:default')).toBe(0); // taken: reset
    } finally {
      await shared.close();
    }
  });
});
