import { Module, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import {
  CircuitBreakerRegistry,
  DatabaseResilienceModule,
  type DatabaseResilienceOptions,
} from 'nestjs-database-resilience';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { Redis } from 'ioredis';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { useScratchDatabase } from '../support/scratch-database';

const TOKEN = 'admin-token-0123456789-abcdef';
const SECRET_VALUE = 'card-4111-1111-1111-1111';

describe('admin REST API (e2e: access, CSRF, validation, no secrets)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_e2e_admin');
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await scratch?.restoreEnv();
  });

  async function appWith(options: DatabaseResilienceOptions, logger?: LoggerService): Promise<INestApplication> {
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          host: '127.0.0.1',
          username: 'root',
          database: scratch.database,
          retryAttempts: 0,
        }),
        DatabaseResilienceModule.forRoot({ healthCheck: { enabled: false }, alerts: { log: false }, ...options }),
      ],
    })
    class AdminTestModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AdminTestModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: logger ?? false });
    await app.init();
    apps.push(app);
    return app;
  }

  const ROUTES: Array<['get' | 'post', string]> = [
    ['get', '/database-errors'.concat('/api/statistics')],
    ['get', '/database-errors/api/recent-errors'],
    ['get', '/database-errors/api/incidents'],
    ['get', '/database-errors/api/timeline'],
    ['get', '/database-errors/api/fleet/recent-errors'],
    ['get', '/database-errors/api/fleet/statistics'],
    ['get', '/database-errors/api/fleet/hot-spots'],
    ['get', '/database-errors/api/admission'],
    ['get', '/database-errors/api/health-check'],
    ['get', '/database-errors/api/circuit-breakers'],
    ['get', '/database-errors/api/deadlocks'],
    ['post', '/database-errors/api/degradation/reset'],
    ['post', '/database-errors/api/circuit-breakers/default/reset'],
    ['get', '/database-errors/metrics'],
  ];

  it('is secure by default: without access configured every admin route answers 401, and start-up says how to enable it', async () => {
    const lines: string[] = [];
    const quiet = () => undefined;
    const app = await appWith(
      {},
      {
        log: (message: unknown) => void lines.push(String(message)),
        error: quiet,
        warn: quiet,
        debug: quiet,
        verbose: quiet,
      },
    );
    for (const [method, path] of ROUTES) {
      await request(app.getHttpServer())[method](path).set('authorization', `Bearer ${TOKEN}`).expect(401);
    }
    expect(lines.filter((l) => /admin\.token/.test(l) && /401/.test(l))).toHaveLength(1);
  });

  describe('with a token', () => {
    let app: INestApplication;
    const bearer = { authorization: `Bearer ${TOKEN}` };

    beforeAll(async () => {
      app = await appWith({ admin: { token: TOKEN } });
      // An error whose SQL carries a value that must never come back out.
      const dataSource = app.get<DataSource>(getDataSourceToken());
      await dataSource.query(`SELECT * FROM no_such_table WHERE card = '${SECRET_VALUE}'`).catch(() => undefined);
    });

    it('answers 401 without the token or with a wrong one, 200 with it', async () => {
      const server = app.getHttpServer();
      await request(server).get('/database-errors/api/statistics').expect(401);
      await request(server)
        .get('/database-errors/api/statistics')
        .set('authorization', 'Bearer wrong-token-wrong-token')
        .expect(401);
      // Wrong tokens of the token's own length (a comparison of lengths alone would let them in): one character
      // off at the start, in the middle, at the end.
      for (const at of [0, Math.floor(TOKEN.length / 2), TOKEN.length - 1]) {
        const wrong = `${TOKEN.slice(0, at)}${TOKEN[at] === 'x' ? 'y' : 'x'}${TOKEN.slice(at + 1)}`;
        expect(wrong).toHaveLength(TOKEN.length);
        await request(server)
          .get('/database-errors/api/statistics')
          .set('authorization', `Bearer ${wrong}`)
          .expect(401);
      }
      for (const [method, path] of ROUTES) await request(server)[method](path).set(bearer).expect(200);
    });

    it('validates inputs: limit is 1 to 1000 (400 with a reason), an unknown breaker is 404', async () => {
      const server = app.getHttpServer();
      const abc = await request(server).get('/database-errors/api/recent-errors?limit=abc').set(bearer).expect(400);
      expect(abc.body.message).toMatch(/`limit` must be a whole number from 1 to 1000/);
      await request(server).get('/database-errors/api/recent-errors?limit=5000').set(bearer).expect(400);
      await request(server).get('/database-errors/api/recent-errors?limit=0').set(bearer).expect(400);
      const ten = await request(server).get('/database-errors/api/recent-errors?limit=10').set(bearer).expect(200);
      expect(ten.body.length).toBeLessThanOrEqual(10);
      const severity = await request(server)
        .get('/database-errors/api/incidents?severity=fatal')
        .set(bearer)
        .expect(400);
      expect(severity.body.message).toMatch(/`severity`/);
      await request(server).get('/database-errors/api/incidents?category=<script>').set(bearer).expect(400);
      await request(server).get('/database-errors/api/timeline?hours=1000').set(bearer).expect(400);
      await request(server).get('/database-errors/api/fleet/recent-errors?instance=a%20b').set(bearer).expect(400);
      // Without a shared store the fleet view is this instance's, and says so.
      const fleet = await request(server).get('/database-errors/api/fleet/statistics').set(bearer).expect(200);
      expect(fleet.body).toMatchObject({
        scope: 'local',
        reason: "no Redis store (sharedState.store { type: 'redis' })",
      });
      await request(server).post('/database-errors/api/circuit-breakers/nope/reset').set(bearer).expect(404);
      await request(server).post('/database-errors/api/circuit-breakers/bad%20name/reset').set(bearer).expect(400);
    });

    it('logs the browser in with the token once: a signed HttpOnly SameSite=Strict cookie; POSTs then need the CSRF token', async () => {
      const server = app.getHttpServer();
      const failed = await request(server)
        .post('/database-errors/login')
        .type('form')
        .send({ token: 'not-the-token-at-all' })
        .expect(303);
      expect(failed.headers.location).toBe('/database-errors?login=failed');
      expect(failed.headers['set-cookie']).toBeUndefined();

      const login = await request(server)
        .post('/database-errors/login')
        .type('form')
        .send({ token: TOKEN })
        .expect(303);
      const cookies = login.headers['set-cookie'] as unknown as string[];
      const session = cookies.find((c) => c.startsWith('dr_admin_session='))!;
      const csrf = cookies.find((c) => c.startsWith('dr_admin_csrf='))!;
      expect(session).toMatch(/HttpOnly/);
      expect(session).toMatch(/SameSite=Strict/);
      expect(session).toMatch(/Path=\/database-errors/);
      expect(csrf).not.toMatch(/HttpOnly/); // the page's script sends it back
      const cookieHeader = cookies.map((c) => c.split(';')[0]).join('; ');
      const csrfToken = decodeURIComponent(csrf.split(';')[0].split('=')[1]);

      await request(server).get('/database-errors/api/statistics').set('cookie', cookieHeader).expect(200);
      const forged = `${session.split(';')[0].split('.')[0]}.forged`;
      await request(server).get('/database-errors/api/statistics').set('cookie', forged).expect(401);
      await request(server).post('/database-errors/api/degradation/reset').set('cookie', cookieHeader).expect(403);
      await request(server)
        .post('/database-errors/api/degradation/reset')
        .set('cookie', cookieHeader)
        .set('x-csrf-token', 'made.up')
        .expect(403);
      await request(server)
        .post('/database-errors/api/degradation/reset')
        .set('cookie', cookieHeader)
        .set('x-csrf-token', csrfToken)
        .expect(200);
    });

    it('sends security headers and a Content-Security-Policy without inline script', async () => {
      const page = await request(app.getHttpServer()).get('/database-errors').expect(200);
      const csp = page.headers['content-security-policy'] as string;
      expect(csp).toMatch(/script-src 'self'/);
      expect(csp).not.toMatch(/unsafe-inline/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.text).not.toMatch(/<script>/); // only <script src>
      expect(page.text).toContain('<script src="/database-errors/assets/dashboard.js" defer></script>');
      await request(app.getHttpServer())
        .get('/database-errors/assets/dashboard.js')
        .expect(200)
        .expect('content-type', /javascript/);
      await request(app.getHttpServer()).get('/database-errors/assets/..%2Fadmin-access.js').expect(404);
    });

    it('serves Prometheus text at metrics, and resets a breaker', async () => {
      const server = app.getHttpServer();
      const metrics = await request(server).get('/database-errors/metrics').set(bearer).expect(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
      expect(metrics.text).toContain('db_resilience_errors_total');
      app.get(CircuitBreakerRegistry).forceOpen('default');
      const reset = await request(server)
        .post('/database-errors/api/circuit-breakers/default/reset')
        .set(bearer)
        .expect(200);
      expect(reset.body).toMatchObject({ name: 'default', state: 'closed' });
    });

    it('never answers with the token, an SQL value or a stack', async () => {
      const server = app.getHttpServer();
      const bodies: string[] = [];
      for (const [method, path] of ROUTES) bodies.push((await request(server)[method](path).set(bearer)).text);
      const recent = (await request(server).get('/database-errors/api/recent-errors').set(bearer)).body;
      expect(recent[0]).toMatchObject({ category: 'schema', sql: 'SELECT * FROM no_such_table WHERE card = ?' });
      for (const body of bodies) {
        expect(body).not.toContain(SECRET_VALUE);
        expect(body).not.toContain(TOKEN);
        expect(body).not.toMatch(/\bat .+\.(js|ts):\d+/);
      }
    });
  });

  it('lets the app reuse its own auth through authorize(request)', async () => {
    const app = await appWith({
      admin: { authorize: (req) => (req as { headers: Record<string, string> }).headers['x-staff'] === 'yes' },
    });
    const server = app.getHttpServer();
    await request(server).get('/database-errors/api/statistics').set('x-staff', 'yes').expect(200);
    await request(server).get('/database-errors/api/statistics').set('x-staff', 'no').expect(401);
    await request(server).get('/database-errors/api/statistics').set('authorization', `Bearer ${TOKEN}`).expect(401);
  });

  describe('sessions that logout ends, failed authentication throttled', () => {
    const redisPrefix = `dr-admin-${process.pid}-${Date.now()}`;
    const shared = (): DatabaseResilienceOptions => ({
      admin: { token: TOKEN, authFailureLimit: 10, authFailureWindowMs: 60_000 },
      sharedState: { store: { type: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: redisPrefix } },
    });

    afterAll(async () => {
      const redis = new Redis('redis://127.0.0.1:6379');
      const keys = await redis.keys(`${redisPrefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });

    const login = async (app: INestApplication) => {
      const response = await request(app.getHttpServer())
        .post('/database-errors/login')
        .type('form')
        .send({ token: TOKEN })
        .expect(303);
      return (response.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
    };

    it('a cookie captured before logout is refused after it, on this instance and on another sharing the store, and by one started later', async () => {
      const a = await appWith(shared());
      const b = await appWith(shared());
      const cookie = await login(a);
      const other = await login(a); // another browser's session stays valid
      await request(a.getHttpServer()).get('/database-errors/api/statistics').set('cookie', cookie).expect(200);
      await request(b.getHttpServer()).get('/database-errors/api/statistics').set('cookie', cookie).expect(200);
      await request(a.getHttpServer()).post('/database-errors/logout').set('cookie', cookie).expect(303);
      await request(a.getHttpServer()).get('/database-errors/api/statistics').set('cookie', cookie).expect(401);
      await waitUntil(
        async () =>
          (await request(b.getHttpServer()).get('/database-errors/api/statistics').set('cookie', cookie)).status ===
          401,
        'the other instance to refuse the replayed cookie',
      );
      const late = await appWith(shared());
      await request(late.getHttpServer()).get('/database-errors/api/statistics').set('cookie', cookie).expect(401);
      await request(b.getHttpServer()).get('/database-errors/api/statistics').set('cookie', other).expect(200);
    });

    it('100 wrong tokens in a second: past the limit 429, the right token too, until the window ends; a wrong token of the right length counts', async () => {
      const app = await appWith({ admin: { token: TOKEN, authFailureLimit: 10, authFailureWindowMs: 5000 } });
      const server = app.getHttpServer();
      const wrong = `${TOKEN.slice(0, -1)}${TOKEN.endsWith('x') ? 'y' : 'x'}`; // right length
      const statuses = await Promise.all(
        Array.from(
          { length: 100 },
          async () =>
            (await request(server).get('/database-errors/api/statistics').set('authorization', `Bearer ${wrong}`))
              .status,
        ),
      );
      expect(statuses.filter((s) => s === 401)).toHaveLength(10); // the limit
      expect(statuses.filter((s) => s === 429)).toHaveLength(90);
      await request(server).get('/database-errors/api/statistics').set('authorization', `Bearer ${TOKEN}`).expect(429);
      await request(server).post('/database-errors/login').type('form').send({ token: TOKEN }).expect(429);
      // The block ends with its window; successes are never counted.
      await waitUntil(
        async () =>
          (await request(server).get('/database-errors/api/statistics').set('authorization', `Bearer ${TOKEN}`))
            .status === 200,
        'the block to end',
        10_000,
      );
      for (let i = 0; i < 20; i++) {
        await request(server)
          .get('/database-errors/api/statistics')
          .set('authorization', `Bearer ${TOKEN}`)
          .expect(200);
      }
    });
  });
});
