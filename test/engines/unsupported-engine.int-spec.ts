import { Controller, Get, Logger, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule, DatabaseHealthService, ResilienceService } from 'nestjs-database-resilience';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { waitUntil } from '../../apps/cli/src/support/server-target';

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
 * An app on a database engine the module does not support (SQLite in memory through TypeORM + sql.js): adding the
 * module must not crash it. Its DataSource is left alone with one clear start-up line; the scheduled health check,
 * the admin API and the app's own queries keep working.
 */
describe('an app on an engine the module does not support (sql.js)', () => {
  let app: INestApplication;
  const warnings: string[] = [];

  beforeAll(async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'sqljs', retryAttempts: 0 }),
        DatabaseResilienceModule.forRoot({
          healthCheck: { intervalMs: 200, timeoutMs: 100 },
          admin: { token: TOKEN },
          alerts: { log: false },
        }),
      ],
      controllers: [PingController],
    })
    class SqlJsAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [SqlJsAppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    jest.restoreAllMocks();
  });

  it('boots, says once that the DataSource is left alone, and keeps answering through scheduled health checks', async () => {
    expect(warnings.filter((w) => w.includes('"default" is of type "sqljs"'))).toHaveLength(1);
    const server = app.getHttpServer();
    const started = Date.now();
    // Several scheduled checks (every 200 ms) run meanwhile: none may throw out of the app.
    await waitUntil(async () => Date.now() - started > 1000, 'a few health-check intervals', 5_000);
    await request(server)
      .get('/ping')
      .expect(200, [{ ok: 1 }]);
    await request(server).get('/broken').expect(500); // the app's own error handling, not the module's
    expect(await app.get(DatabaseHealthService).check()).toEqual([]);
    for (const path of ['statistics', 'recent-errors', 'health-check', 'circuit-breakers', 'deadlocks']) {
      await request(server).get(`/database-errors/api/${path}`).set('authorization', `Bearer ${TOKEN}`).expect(200);
    }
    await request(server).get('/metrics').expect(200);
  });

  it('transaction() on it fails with a clear error naming the engines that are supported', async () => {
    await expect(app.get(ResilienceService).transaction(async () => 1)).rejects.toThrow(
      'DataSource "default" is of type "sqljs": MySQL/MariaDB (mysql2) and PostgreSQL (pg) are supported',
    );
  });
});
