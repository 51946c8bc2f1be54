import { Controller, Get, Logger, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule, HealthCheckService, ResilienceService } from 'nestjs-database-resilience';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { provokePostgresDeadlock } from '../support/postgres-deadlock';

const TOKEN = 'admin-token-for-the-pg-app-0001';

@Controller()
class PingController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('ping')
  async ping() {
    return this.dataSource.query('SELECT 1 AS ok');
  }

  @Get('broken')
  broken() {
    return this.dataSource.query('SELECT * FROM no_such_table');
  }
}

/**
 * An app on a database engine the module does not support yet (PostgreSQL through TypeORM + pg): adding the
 * module must not crash it. Its DataSource is left alone with one clear start-up line; the scheduled health check,
 * the admin API and the app's own queries keep working.
 */
describe('a PostgreSQL app with the module (an engine not supported yet)', () => {
  let app: INestApplication;
  const warnings: string[] = [];

  beforeAll(async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          username: 'postgres',
          database: 'test',
          retryAttempts: 0,
        }),
        DatabaseResilienceModule.forRoot({
          healthCheck: { intervalMs: 200, timeoutMs: 100 },
          admin: { token: TOKEN },
          alerts: { log: false },
        }),
      ],
      controllers: [PingController],
    })
    class PostgresAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [PostgresAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    jest.restoreAllMocks();
  });

  it('boots, says once that the DataSource is left alone, and keeps answering through scheduled health checks', async () => {
    expect(warnings.filter((w) => w.includes('"default" is of type "postgres"'))).toHaveLength(1);
    const server = app.getHttpServer();
    const started = Date.now();
    // Several scheduled checks (every 200 ms) run meanwhile: none may throw out of the app.
    await waitUntil(async () => Date.now() - started > 1000, 'a few health-check intervals', 5_000);
    await request(server)
      .get('/ping')
      .expect(200, [{ ok: 1 }]);
    await request(server).get('/broken').expect(500); // the app's own error handling, not the module's
    expect(await app.get(HealthCheckService).check()).toEqual([]);
    for (const path of ['statistics', 'recent-errors', 'health-check', 'circuit-breakers', 'deadlocks']) {
      await request(server).get(`/database-errors/api/${path}`).set('authorization', `Bearer ${TOKEN}`).expect(200);
    }
    await request(server).get('/metrics').expect(200);
  });

  it('execute(fn, { retry: true }) re-runs a unit that met a real PostgreSQL deadlock, whole', async () => {
    const dataSource = app.get(DataSource);
    const table = `dr_pg_retry_${process.pid}`;
    await dataSource.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, balance INT NOT NULL)`);
    try {
      await dataSource.query(`INSERT INTO ${table} VALUES (1, 100), (2, 100)`);
      let attempts = 0;
      const result = await app.get(ResilienceService).execute(
        async () => {
          attempts++;
          if (attempts === 1) await provokePostgresDeadlock(table);
          return 'done';
        },
        { retry: { baseDelayMs: 1 } },
      );
      expect({ result, attempts }).toEqual({ result: 'done', attempts: 2 });
    } finally {
      await dataSource.query(`DROP TABLE ${table}`);
    }
  });

  it('transaction() on it fails with a clear error instead of a mysql2 call on a pg client', async () => {
    await expect(app.get(ResilienceService).transaction(async () => 1)).rejects.toThrow(
      'DataSource "default" is of type "postgres": only MySQL and MariaDB (mysql2) are supported',
    );
  });
});
