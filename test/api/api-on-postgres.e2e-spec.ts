import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import request from 'supertest';
import { AppModule } from '../../apps/api/src/app.module';
import { configureApp } from '../../apps/api/src/configure-app';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };

/**
 * apps/api as it ships, on PostgreSQL from `DATABASE_URL=postgres://…` (a database of the test's own on the local
 * server): accounts, transfers, the report, health; opposite transfers under 20 callers deadlock for real and are
 * re-run whole by the module (no 5xx, no money made or lost); an Idempotency-Key works the same.
 */
describe('apps/api on PostgreSQL (DATABASE_URL=postgres://…)', () => {
  const database = `dr_api_pg_${process.pid}`;
  const saved: Record<string, string | undefined> = {};
  let admin: Client;
  let app: INestApplication;

  beforeAll(async () => {
    admin = new Client({ ...PG, database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const env = { DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`, DB_SYNCHRONIZE: 'true' };
    for (const [name, value] of Object.entries(env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = configureApp(moduleRef.createNestApplication({ logger: false }));
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin?.end();
  });

  const http = () => request(app.getHttpServer());
  const open = async (owner: string, balance: number) =>
    (await http().post('/accounts').send({ owner, balance }).expect(201)).body as { id: number };

  it('serves accounts, transfers, the report and health', async () => {
    const alice = await open('alice', 1000);
    const bob = await open('bob', 500);
    await http().post('/transfers').send({ fromId: alice.id, toId: bob.id, amount: 300 }).expect(201);
    expect((await http().get(`/accounts/${bob.id}`).expect(200)).body.balance).toBe(800);
    await http().post('/transfers').send({ fromId: bob.id, toId: alice.id, amount: 10_000 }).expect(422);
    await http().get('/reports/summary').expect(200);
    await http().get('/health').expect(200);
  });

  it('transfers among 8 accounts under 20 callers: every answer applied (201) or a clean 503, no money made or lost', async () => {
    const accounts = await Promise.all(Array.from({ length: 8 }, (_, i) => open(`storm-${i}`, 10_000)));
    const pick = () => accounts[Math.floor(Math.random() * accounts.length)].id;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        Promise.all(
          Array.from({ length: 3 }, async () => {
            const fromId = pick();
            const toId =
              accounts.map((a) => a.id).find((id) => id !== fromId && Math.random() < 0.5) ??
              accounts.find((a) => a.id !== fromId)!.id;
            const response = await http().post('/transfers').send({ fromId, toId, amount: 1 });
            return { fromId, toId, status: response.status, retryAfter: response.headers['retry-after'] };
          }),
        ),
      ),
    ).then((perCaller) => perCaller.flat());
    // PostgreSQL looks for deadlocks after 1 s (deadlock_timeout): under this contention a transfer may run out of
    // attempts or wait past the pool's bound, and answers 503 with Retry-After. Nothing else.
    expect(answers.filter((x) => x.status !== 201 && !(x.status === 503 && x.retryAfter !== undefined))).toEqual([]);
    expect(answers.some((x) => x.status === 201)).toBe(true);
    const expected = new Map(accounts.map((a) => [a.id, 10_000]));
    for (const { fromId, toId } of answers.filter((x) => x.status === 201)) {
      expected.set(fromId, expected.get(fromId)! - 1);
      expected.set(toId, expected.get(toId)! + 1);
    }
    for (const { id } of accounts) {
      expect({ id, balance: (await http().get(`/accounts/${id}`)).body.balance }).toEqual({
        id,
        balance: expected.get(id),
      });
    }
  }, 120_000);

  it('an Idempotency-Key applies a transfer once', async () => {
    const a = await open('k-a', 50);
    const b = await open('k-b', 50);
    for (let i = 0; i < 2; i++) {
      const response = await http()
        .post('/transfers')
        .set('Idempotency-Key', `pg-transfer-${process.pid}`)
        .send({ fromId: a.id, toId: b.id, amount: 5 });
      expect([201, 409]).toContain(response.status);
    }
    expect((await http().get(`/accounts/${b.id}`).expect(200)).body.balance).toBe(55);
  });
});
