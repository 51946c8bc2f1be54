import type { AddressInfo } from 'node:net';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { DatabaseResilienceModule, ResilienceService } from 'nestjs-database-resilience';
import { chromium } from 'playwright-core';
import type { DataSource } from 'typeorm';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import type { ServerTarget } from '../../apps/cli/src/support/server-target';
import { ownRedisServer } from '../support/redis-server';
import { deadlockOnce } from '../support/mysql-deadlock';
import { useScratchDatabase } from '../support/scratch-database';

const TOKEN = 'fleet-view-token-0123456789';
const INSTANCES = 3;

interface Instance {
  id: string;
  app: INestApplication;
  base: string;
}

/**
 * Three instances of an app on one Redis and one MariaDB: errors met by one appear in the others' admin API,
 * with the instance named; Redis stopped mid-run leaves every request working and each instance on its own view
 * (said once), and the fleet view comes back with Redis, without a restart.
 */
describe('fleet view: the errors of every instance, read as one through Redis', () => {
  let scratch: ServerTarget & { restoreEnv(): Promise<void> };
  let redis: Awaited<ReturnType<typeof ownRedisServer>>;
  const instances: Instance[] = [];
  const warnings: string[] = [];
  const logs: string[] = [];
  const logger: LoggerService = {
    log: (message: unknown) => void logs.push(String(message)),
    warn: (message: unknown) => void warnings.push(String(message)),
    error: () => undefined,
  };

  async function start(id: string): Promise<Instance> {
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          host: '127.0.0.1',
          username: 'root',
          database: scratch.database,
          retryAttempts: 0,
        }),
        DatabaseResilienceModule.forRoot({
          instanceId: id,
          admin: { token: TOKEN },
          healthCheck: { enabled: false },
          alerts: { log: false },
          queries: { slowQueryMs: 50 },
          sharedState: { store: { type: 'redis', url: redis.url, keyPrefix: `dr-fleet-view-${process.pid}` } },
        }),
      ],
    })
    class FleetTestModule {}
    const moduleRef = await Test.createTestingModule({ imports: [FleetTestModule] }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.listen(0, '127.0.0.1');
    return { id, app, base: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/database-errors` };
  }

  async function admin<T>(instance: Instance, path: string): Promise<T> {
    const response = await fetch(`${instance.base}/${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  /** A failure of the app's own making on `instance`: a missing table (schema, high). */
  async function fail(instance: Instance, times: number): Promise<void> {
    const resilience = instance.app.get(ResilienceService);
    const dataSource = instance.app.get<DataSource>(getDataSourceToken());
    for (let i = 0; i < times; i++) {
      await expect(
        resilience.execute(() => dataSource.query('SELECT * FROM no_such_table_fleet'), { operation: 'report' }),
      ).rejects.toThrow();
    }
  }

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_fleet_view');
    redis = await ownRedisServer();
    for (let i = 1; i <= INSTANCES; i++) instances.push(await start(`api-${i}`));
  }, 60_000);

  afterAll(async () => {
    for (const { app } of instances) await app.close();
    redis?.process.kill();
    await scratch?.restoreEnv();
  });

  type Recent = {
    scope: string;
    reason?: string;
    errors: Array<{ instance: string; code: string; operation?: string }>;
  };

  it('errors met by instance 1 appear in the admin API of instance 3, with the instance named (the delay logged)', async () => {
    const [first, , third] = instances;
    const startedAt = Date.now();
    await fail(first, 5);
    let seen: Recent | undefined;
    await waitUntil(
      async () => {
        seen = await admin<Recent>(third, 'api/fleet/recent-errors?instance=api-1');
        return seen.errors.length === 5;
      },
      'instance 1’s errors in instance 3’s fleet view',
      5_000,
    );
    const tookMs = Date.now() - startedAt;
    console.log(`[fleet] instance 1's errors visible on instance 3 after ${tookMs} ms`);
    expect(seen).toMatchObject({ scope: 'fleet', instance: 'api-3' });
    expect(seen!.errors[0]).toMatchObject({ instance: 'api-1', code: 'ER_NO_SUCH_TABLE', operation: 'report' });

    await fail(instances[1], 2);
    await waitUntil(
      async () =>
        (await admin<{ byInstance: Record<string, number> }>(first, 'api/fleet/statistics')).byInstance['api-2'] === 2,
      'instance 2 in the fleet statistics',
      5_000,
    );
    const stats = await admin<{
      scope: string;
      errors: number;
      byInstance: Record<string, number>;
      byCategory: Record<string, number>;
    }>(third, 'api/fleet/statistics?windowMinutes=60');
    expect(stats).toMatchObject({ scope: 'fleet', errors: 7, byInstance: { 'api-1': 5, 'api-2': 2 } });
    expect(stats.byCategory.schema).toBe(7);
    // The filter: one instance's errors only.
    expect((await admin<Recent>(third, 'api/fleet/recent-errors?instance=api-2')).errors).toHaveLength(2);
  }, 30_000);

  it('slow statements met by instance 1 and a deadlock lost by instance 2 are among the hot spots instance 3 shows', async () => {
    const [first, second, third] = instances;
    const dataSource = (instance: Instance) => instance.app.get<DataSource>(getDataSourceToken());
    for (let i = 0; i < 3; i++) await dataSource(first).query('SELECT SLEEP(0.06) AS fleet_slow_probe');
    await dataSource(second).query('CREATE TABLE hot_accounts (id INT PRIMARY KEY, balance INT NOT NULL)');
    await dataSource(second).query('INSERT INTO hot_accounts VALUES (1, 0), (2, 0), (3, 0)');
    const side = await scratch.connect();
    try {
      expect(await deadlockOnce(second.app.get(ResilienceService), side, 'hot_accounts')).toBe(2);
    } finally {
      await side.end();
    }
    type HotSpots = {
      scope: string;
      slowQueries: Array<{ fingerprint: string; count: number; meanMs: number; byInstance: Record<string, number> }>;
      deadlocks: {
        total: number;
        byInstance: Record<string, number>;
        topStatements: Array<{ fingerprint: string; deadlocks: number; byInstance: Record<string, number> }>;
      };
    };
    let spots!: HotSpots;
    await waitUntil(
      async () => {
        spots = await admin<HotSpots>(third, 'api/fleet/hot-spots');
        return spots.deadlocks.total === 1 && spots.slowQueries.some((q) => q.fingerprint.includes('fleet_slow_probe'));
      },
      'the hot spots of instances 1 and 2 in the view of instance 3',
      5_000,
    );
    expect(spots.scope).toBe('fleet');
    const slow = spots.slowQueries.find((q) => q.fingerprint.includes('fleet_slow_probe'))!;
    expect(slow).toMatchObject({
      fingerprint: 'SELECT SLEEP(?) AS fleet_slow_probe',
      count: 3,
      byInstance: { 'api-1': 3 },
    });
    expect(slow.meanMs).toBeGreaterThanOrEqual(50);
    expect(spots.deadlocks).toMatchObject({ total: 1, byInstance: { 'api-2': 1 } });
    expect(spots.deadlocks.topStatements[0]).toMatchObject({ deadlocks: 1, byInstance: { 'api-2': 1 } });
    expect(spots.deadlocks.topStatements[0].fingerprint).toContain('hot_accounts');
    // The instance filter: instance 1 lost no deadlock.
    expect((await admin<HotSpots>(third, 'api/fleet/hot-spots?instance=api-1')).deadlocks.total).toBe(0);
  }, 30_000);

  it('the dashboard of instance 3 in Chromium: every instance, the instance filter, grouped rows, the timeline', async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      await page.goto(instances[2].base);
      await page.fill('#token', TOKEN);
      await page.click('#login button[type=submit]');
      await page.locator('#content').waitFor({ state: 'visible' });
      // The fleet: both instances that met errors, each with its count; the scope said.
      await page.locator('#by-instance [data-instance="api-1"]').waitFor();
      // Instance 2: two missing tables and one deadlock lost (the test before).
      expect(await page.locator('#by-instance [data-instance="api-2"]').textContent()).toContain('3 errors');
      // The fleet's hot spots: instance 1's slow statement, instance 2's deadlock, each with its instance.
      expect(await page.locator('#hot-slow').textContent()).toContain('fleet_slow_probe');
      expect(await page.locator('#hot-slow').textContent()).toContain('api-1: 3');
      expect(await page.locator('#hot-deadlocks').textContent()).toContain('hot_accounts');
      expect(await page.locator('#hot-deadlocks').textContent()).toContain('api-2: 1');
      expect(await page.locator('#scope').textContent()).toBe('(all instances)');
      // The instance filter: only instance 2's rows.
      await page.selectOption('#fleet-filter select[name=instance]', 'api-2');
      // Read through locators: the dashboard's CSP forbids eval, which a string predicate of waitForFunction needs.
      await waitUntil(
        async () =>
          JSON.stringify(await page.locator('#recent tbody tr td:nth-child(2)').allTextContents()) ===
          JSON.stringify(['api-2', 'api-2', 'api-2']),
        "instance 2's three rows alone",
      );
      // This instance's incidents (it met none: said so) and timeline (the health check the page ran) are there too.
      expect(await page.locator('#incidents tbody').textContent()).toContain('no failures match');
      expect(await page.locator('#timeline').textContent()).toContain('health of default up');
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('Redis stopped: every request keeps working, each instance shows its own view and says so once; back with Redis', async () => {
    redis.process.kill('SIGKILL');
    await new Promise((resolve) => redis.process.once('exit', resolve));
    const before = warnings.filter((w) => w.includes('fleet view') || w.includes("this instance's view")).length;
    for (const instance of instances) {
      const dataSource = instance.app.get<DataSource>(getDataSourceToken());
      expect(await instance.app.get(ResilienceService).execute(() => dataSource.query('SELECT 1 AS ok'))).toEqual([
        { ok: 1 },
      ]);
      await fail(instance, 1);
      for (let read = 0; read < 3; read++) {
        const recent = await admin<Recent>(instance, 'api/fleet/recent-errors');
        expect(recent).toMatchObject({ scope: 'local', reason: 'Redis does not answer', instance: instance.id });
        expect(recent.errors.every((e) => e.instance === instance.id)).toBe(true);
      }
    }
    // The hot spots too: each instance's own (instance 2's deadlock, nobody else's).
    const localSpots = await admin<{ scope: string; deadlocks: { total: number; byInstance: Record<string, number> } }>(
      instances[1],
      'api/fleet/hot-spots',
    );
    expect(localSpots).toMatchObject({ scope: 'local', deadlocks: { total: 1, byInstance: { 'api-2': 1 } } });
    expect((await admin<{ deadlocks: { total: number } }>(instances[2], 'api/fleet/hot-spots')).deadlocks.total).toBe(
      0,
    );
    const said = warnings.filter((w) => w.includes("this instance's view")).length - before;
    expect(said).toBe(INSTANCES); // once per instance, however often it is asked

    redis = await ownRedisServer(redis.port);
    await waitUntil(
      async () => {
        // What was recorded while the client was still reconnecting is not in the fleet view: record on.
        await fail(instances[0], 1);
        await new Promise((resolve) => setTimeout(resolve, 250));
        const recent = await admin<Recent>(instances[2], 'api/fleet/recent-errors?instance=api-1');
        return recent.scope === 'fleet' && recent.errors.length >= 1;
      },
      'the fleet view back',
      15_000,
    );
    expect(logs.filter((l) => l.includes('the fleet view is shared again')).length).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
