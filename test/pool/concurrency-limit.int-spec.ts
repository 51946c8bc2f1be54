import type { AddressInfo } from 'node:net';
import { Controller, Get, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectDataSource, TypeOrmModule, getDataSourceToken, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import { DatabaseResilienceModule, PoolMonitor, ResilienceEvents } from 'nestjs-database-resilience';
import { register, type Counter } from 'prom-client';
import type { DataSource } from 'typeorm';
import { ServerTarget } from '../../apps/cli/src/support/server-target';
import { databaseEnv, type DatabaseEnv } from '../../libs/shared/src/database-env';

const POOL = 4;
const SLEEP_S = 0.2;
/**
 * The 'fast' route's statement: a tenth of the slow one. Not sub-millisecond: on a loaded machine a SELECT 1's time
 * varies by several times itself, which the limit rightly reads as latency growing.
 */
const FAST_SLEEP_S = 0.02;
const CALLERS = 24;

/** An HTTP app whose one route holds a pool connection SLEEP_S on the server; the module with or without the limit. */
async function slowApp(target: ServerTarget, env: DatabaseEnv, limited: boolean) {
  const sleep = target.sql.sleep(SLEEP_S, 'limit_probe');
  const shortSleep = target.sql.sleep(FAST_SLEEP_S, 'limit_probe');
  @Controller()
  class SlowController {
    constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

    @Get('slow')
    async slow() {
      await this.dataSource.query(sleep);
      return { ok: true };
    }

    /** A write that holds its connection as long: one row per request served. */
    @Post('write')
    @HttpCode(200)
    async write() {
      await this.dataSource.transaction(async (manager) => {
        await manager.query('INSERT INTO served (at) VALUES (1)');
        await manager.query(sleep);
      });
      return { ok: true };
    }

    @Get('fast')
    async fast() {
      await this.dataSource.query(shortSleep);
      return { ok: true };
    }
  }
  const connection: TypeOrmModuleOptions =
    env.engine === 'postgres'
      ? { type: 'postgres', host: env.host, port: env.port, username: env.username, database: target.database }
      : {
          type: 'mysql',
          host: env.host,
          port: env.port,
          username: env.username,
          password: env.password,
          database: target.database,
        };
  @Module({
    imports: [
      TypeOrmModule.forRoot({ ...connection, poolSize: POOL, retryAttempts: 0 }),
      DatabaseResilienceModule.forRoot({
        concurrencyLimit: { enabled: limited },
        healthCheck: { enabled: false },
        pool: { acquireTimeoutMs: 30_000 },
      }),
    ],
    controllers: [SlowController],
  })
  class SlowAppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [SlowAppModule] }).compile();
  const app: INestApplication = moduleRef.createNestApplication({ logger: false });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const ran = { read: 0, begin: 0 }; // statements the server ran: reads (/slow), transactions begun (/write)
  app.get(ResilienceEvents).subscribe(
    (e) => {
      if (e.type === 'query' && (e.kind === 'read' || e.kind === 'begin')) ran[e.kind]++;
    },
    { queries: true },
  );
  return { app, base, ran };
}

/** `n` callers at once; each answer's status, code and Retry-After. */
async function burst(url: string, n: number, method = 'GET') {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const response = await fetch(url, { method });
      const body = (await response.json()) as { code?: string };
      return { status: response.status, code: body.code, retryAfter: response.headers.get('retry-after') };
    }),
  );
}

/**
 * The adaptive limit in front of the pool (`concurrencyLimit`), through HTTP on a real server: with 24 callers at
 * once on a pool of 4 whose statements take 200 ms, the plain pool queues them all (the last waits 1.2 s); with the
 * limit on, the work past what the pool serves in about half a statement's time is answered 503 + Retry-After at
 * once, without reaching the server, and counted; the admitted ones succeed.
 */
describe.each([
  ['MariaDB', databaseEnv({ DB_ENGINE: 'mysql' })],
  ['PostgreSQL', databaseEnv({ DB_ENGINE: 'postgres' })],
])('concurrencyLimit on %s', (_name, env) => {
  let target: ServerTarget;

  beforeAll(async () => {
    target = await ServerTarget.createScratch(env, 'dr_limit');
  }, 60_000);

  afterAll(async () => {
    await target?.dropScratch();
  });

  it('off (the default): every caller waits for the pool and is served', async () => {
    const { app, base, ran } = await slowApp(target, env, false);
    try {
      const answers = await burst(`${base}/slow`, CALLERS);
      expect(answers.map((a) => a.status)).toEqual(Array(CALLERS).fill(200));
      expect(ran.read).toBe(CALLERS);
      expect(app.get(PoolMonitor).concurrencyLimits()).toEqual([]);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('on: the writers past the limit are shed with 503 DATABASE_OVERLOADED + Retry-After, never reaching the server', async () => {
    const { app, base, ran } = await slowApp(target, env, true);
    const dataSource = app.get<DataSource>(getDataSourceToken());
    const rows = async () => Number((await dataSource.query('SELECT COUNT(*) AS n FROM served'))[0].n);
    try {
      await dataSource.query('DROP TABLE IF EXISTS served');
      const id = env.engine === 'postgres' ? 'id SERIAL PRIMARY KEY' : 'id INT PRIMARY KEY AUTO_INCREMENT';
      await dataSource.query(`CREATE TABLE served (${id}, at INT)`);
      for (let i = 0; i < 3; i++) await burst(`${base}/write`, POOL, 'POST'); // the limit learns how long a borrow takes
      const rowsBefore = await rows();
      const before = { begun: ran.begin, shed: app.get(PoolMonitor).concurrencyLimits()[0].shed };
      const shedCounter = register.getSingleMetric('db_resilience_concurrency_shed_total') as Counter;

      const answers = await burst(`${base}/write`, CALLERS, 'POST');

      const served = answers.filter((a) => a.status === 200);
      const shed = answers.filter((a) => a.status !== 200);
      expect(served.length).toBeGreaterThanOrEqual(POOL);
      expect(shed.length).toBeGreaterThan(0);
      for (const answer of shed) {
        expect(answer).toEqual({
          status: 503,
          code: 'DATABASE_OVERLOADED',
          retryAfter: expect.stringMatching(/^\d+$/),
        });
      }
      expect(ran.begin - before.begun).toBe(served.length); // the shed ones never reached the server
      expect((await rows()) - rowsBefore).toBe(served.length); // every write told 200 is there, no shed one is
      const [state] = app.get(PoolMonitor).concurrencyLimits();
      expect(state).toMatchObject({ database: 'default', limit: POOL, inFlight: 0, waiting: 0 });
      expect(state.shed - before.shed).toBe(shed.length);
      const counted = (await shedCounter.get()).values.find((v) => v.labels.database === 'default')?.value;
      expect(counted).toBe(state.shed);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('on: when borrows take far longer than they used to, the limit falls below the pool size', async () => {
    const { app, base } = await slowApp(target, env, true);
    try {
      for (let i = 0; i < 20; i++) await burst(`${base}/fast`, POOL); // fast: 20 ms each
      const limitWhenFast = app.get(PoolMonitor).concurrencyLimits()[0].limit;
      expect(limitWhenFast).toBeGreaterThanOrEqual(POOL - 1); // a slow one among them may take a slot for a while
      // The same callers, the server ten times slower now: bursts until the limit falls (each slow borrow moves it a fraction
      // of the way; how many it takes depends on how the fast phase left it), 15 at most.
      let limitWhenSlow = limitWhenFast;
      for (let i = 0; i < 15 && !(limitWhenSlow < limitWhenFast && limitWhenSlow < POOL); i++) {
        await burst(`${base}/slow`, POOL);
        limitWhenSlow = app.get(PoolMonitor).concurrencyLimits()[0].limit;
      }
      expect(limitWhenSlow).toBeLessThan(limitWhenFast);
      expect(limitWhenSlow).toBeLessThan(POOL);
    } finally {
      await app.close();
    }
  }, 60_000);
});
