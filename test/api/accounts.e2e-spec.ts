import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { CircuitBreakerRegistry, DegradationService, ErrorClassifier } from 'nestjs-database-resilience';
import { AppModule } from '../../apps/api/src/app.module';
import { configureApp } from '../../apps/api/src/configure-app';
import { useScratchDatabase } from '../support/scratch-database';

describe('apps/api accounts and transfers (e2e, real MariaDB)', () => {
  let app: INestApplication;
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_e2e_api');
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = configureApp(moduleRef.createNestApplication({ logger: false }));
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await scratch?.restoreEnv();
  });

  it('boots with the resilience module', () => {
    expect(app.get(ErrorClassifier)).toBeInstanceOf(ErrorClassifier);
  });

  it('opens accounts and moves money between them, keeping the sum', async () => {
    const alice = (
      await request(app.getHttpServer()).post('/accounts').send({ owner: 'alice', balance: 1000 }).expect(201)
    ).body;
    const bob = (await request(app.getHttpServer()).post('/accounts').send({ owner: 'bob', balance: 500 }).expect(201))
      .body;
    await request(app.getHttpServer())
      .post('/transfers')
      .send({ fromId: alice.id, toId: bob.id, amount: 300 })
      .expect(201);
    const accounts = (await request(app.getHttpServer()).get('/accounts').expect(200)).body as Array<{
      id: number;
      balance: number;
    }>;
    expect(accounts.find((a) => a.id === alice.id)?.balance).toBe(700);
    expect(accounts.find((a) => a.id === bob.id)?.balance).toBe(800);
  });

  it('refuses an overdraft without moving anything', async () => {
    const poor = (await request(app.getHttpServer()).post('/accounts').send({ owner: 'poor', balance: 10 }).expect(201))
      .body;
    const rich = (await request(app.getHttpServer()).post('/accounts').send({ owner: 'rich', balance: 10 }).expect(201))
      .body;
    await request(app.getHttpServer())
      .post('/transfers')
      .send({ fromId: poor.id, toId: rich.id, amount: 11 })
      .expect(422);
    expect((await request(app.getHttpServer()).get(`/accounts/${poor.id}`).expect(200)).body.balance).toBe(10);
  });

  it('takes an Idempotency-Key for a transfer, and rejects one too long', async () => {
    const a = (await request(app.getHttpServer()).post('/accounts').send({ owner: 'a', balance: 50 }).expect(201)).body;
    const b = (await request(app.getHttpServer()).post('/accounts').send({ owner: 'b', balance: 50 }).expect(201)).body;
    await request(app.getHttpServer())
      .post('/transfers')
      .set('Idempotency-Key', 'transfer-a-b-1')
      .send({ fromId: a.id, toId: b.id, amount: 5 })
      .expect(201);
    await request(app.getHttpServer())
      .post('/transfers')
      .set('Idempotency-Key', 'x'.repeat(192))
      .send({ fromId: a.id, toId: b.id, amount: 5 })
      .expect(400);
    expect((await request(app.getHttpServer()).get(`/accounts/${b.id}`).expect(200)).body.balance).toBe(55);
    const [marker] = await scratch.connect().then(async (c) => {
      const rows = await c.query(
        "SELECT idempotency_key FROM resilience_idempotency_keys WHERE idempotency_key = 'transfer-a-b-1'",
      );
      await c.end();
      return rows;
    });
    expect(marker).toBeDefined();
  });

  it('validates input: 400 with a reason', async () => {
    const response = await request(app.getHttpServer())
      .post('/transfers')
      .send({ fromId: 1, toId: 1, amount: -5 })
      .expect(400);
    expect(JSON.stringify(response.body)).toMatch(/amount/);
    await request(app.getHttpServer()).get('/accounts/abc').expect(400);
    await request(app.getHttpServer()).get('/accounts/999999').expect(404);
  });

  describe('graceful degradation', () => {
    afterEach(() => {
      app.get(CircuitBreakerRegistry).reset('default');
      app.get(DegradationService).reset();
    });

    it('non-essential routes answer 503 with Retry-After and a JSON body while degraded; essential ones work', async () => {
      await request(app.getHttpServer()).get('/reports/summary').expect(200);
      app.get(DegradationService).degrade('maintenance of the primary');
      const refused = await request(app.getHttpServer()).get('/reports/summary').expect(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.body).toMatchObject({ statusCode: 503, code: 'DEGRADED', retryAfterSeconds: expect.any(Number) });
      await request(app.getHttpServer()).get('/accounts').expect(200); // essential
      app.get(DegradationService).reset();
      await request(app.getHttpServer()).get('/reports/summary').expect(200);
    });

    it('turns on by itself when a breaker opens, and off with a reset', async () => {
      app.get(CircuitBreakerRegistry).forceOpen('default');
      const refused = await request(app.getHttpServer()).get('/reports/summary').expect(503);
      expect(refused.body.message).toContain('paused while the database recovers');
      expect(app.get(DegradationService).state()).toMatchObject({
        degraded: true,
        reason: 'the circuit breaker of "default" is open',
      });
      app.get(CircuitBreakerRegistry).reset('default');
      app.get(DegradationService).reset();
      await request(app.getHttpServer()).get('/reports/summary').expect(200);
    });
  });
});
