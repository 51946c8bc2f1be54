import { Body, Controller, Logger, Module, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { Client } from 'pg';
import request from 'supertest';
import type { DataSource } from 'typeorm';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };
const TOKEN = 'admin-token-for-hostile-pg-values';
/** Quotes, a backslash, a newline and other scripts around a marker: none of it may come out anywhere. */
const SECRET = `SECRET-4711 O'Brien "q" \\ \n ü😀`;
const MARKER = 'SECRET-4711';

@Controller('people')
class PeopleController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** As an app writes what a client sent: parameterised, through TypeORM. */
  @Post()
  create(@Body() body: { email: unknown; age: unknown; note: unknown }) {
    return this.dataSource.query('INSERT INTO person (email, age, note) VALUES ($1, $2, $3)', [
      body.email,
      body.age,
      body.note,
    ]);
  }
}

/**
 * PostgreSQL puts values where MySQL does not (postgres-facts §1.3): `detail` (a duplicate key; the whole row of a
 * NOT NULL or CHECK violation), `message` (a bad integer), `where` (the bind parameter, when the session raises
 * `log_parameter_max_length_on_error`), and TypeORM's `parameters`. Sent through HTTP into a guarded app, the
 * value reaches no response, no recorded error (admin API), no metric and no log line.
 */
describe('hostile values on PostgreSQL reach no response, record, metric or log', () => {
  const schema = `dr_pgv_${process.pid}`;
  let admin: Client;
  let app: INestApplication;
  const logged: string[] = [];

  beforeAll(async () => {
    admin = new Client(PG);
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(
      `CREATE TABLE ${schema}.person (id SERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE, ` +
        'age INT CHECK (age >= 0), note TEXT)',
    );
    for (const level of ['log', 'warn', 'error', 'debug', 'verbose'] as const) {
      jest
        .spyOn(Logger.prototype, level)
        .mockImplementation((...args: unknown[]) => void logged.push(args.map((a) => JSON.stringify(a)).join(' ')));
    }
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          ...PG,
          username: PG.user,
          schema,
          // The session asks the server to echo bind parameters into `where`: the worst case.
          extra: { options: `-c search_path=${schema} -c log_parameter_max_length_on_error=-1` },
          retryAttempts: 0,
          logging: false,
        }),
        DatabaseResilienceModule.forRoot({ admin: { token: TOKEN }, healthCheck: { enabled: false } }),
      ],
      controllers: [PeopleController],
    })
    class HostileModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HostileModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    await request(app.getHttpServer()).post('/people').send({ email: SECRET, age: 1, note: null }).expect(201);
  });

  afterAll(async () => {
    await app?.close();
    jest.restoreAllMocks();
    await admin?.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await admin?.end();
  });

  it.each([
    ['a duplicate key (23505: the value in detail)', { email: SECRET, age: 2, note: 'x' }, 409, 'DATABASE_CONFLICT'],
    ['a NOT NULL violation (23502: the whole row)', { email: null, age: 3, note: SECRET }, 409, 'DATABASE_CONFLICT'],
    ['a CHECK violation (23514: the whole row)', { email: 'a@b', age: -1, note: SECRET }, 409, 'DATABASE_CONFLICT'],
    [
      'a bad integer (22P02: the value in message and where)',
      { email: 'c@d', age: SECRET, note: 'x' },
      422,
      'DATABASE_INVALID_DATA',
    ],
  ])('%s', async (_name, body, status, code) => {
    const server = app.getHttpServer();
    const response = await request(server).post('/people').send(body).expect(status);
    expect(response.body).toMatchObject({ code });
    expect(JSON.stringify(response.body)).not.toContain(MARKER);
    const recent = await request(server)
      .get('/database-errors/api/recent-errors')
      .set('authorization', `Bearer ${TOKEN}`)
      .expect(200);
    expect(recent.text).toContain(code === 'DATABASE_CONFLICT' ? 'integrity' : 'data'); // it was recorded
    expect(recent.text).not.toContain(MARKER);
    expect((await request(server).get('/metrics').expect(200)).text).not.toContain(MARKER);
    expect(logged.join('\n')).not.toContain(MARKER);
  });
});
