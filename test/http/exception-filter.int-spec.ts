import {
  Catch,
  Controller,
  Get,
  Module,
  NotFoundException,
  UseFilters,
  type ArgumentsHost,
  type ExceptionFilter,
  type INestApplication,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import {
  CircuitBreakerRegistry,
  DatabaseResilienceModule,
  DegradationService,
  ErrorStatisticsService,
  NonEssential,
  RESILIENCE_METRICS,
  ResilienceService,
  SlowQueryLog,
} from 'nestjs-database-resilience';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { useScratchDatabase } from '../support/scratch-database';

class InsufficientFunds extends Error {}

/** The app's own filter for its own error: it must keep working beside the module's. */
@Catch(InsufficientFunds)
class InsufficientFundsFilter implements ExceptionFilter {
  catch(_error: InsufficientFunds, host: ArgumentsHost) {
    host.switchToHttp().getResponse().status(402).json({ mine: true });
  }
}

/** A controller-level filter that answers duplicate keys its own way: it goes before the module's. */
@Catch()
class OwnDuplicateFilter implements ExceptionFilter {
  catch(_error: unknown, host: ArgumentsHost) {
    host.switchToHttp().getResponse().status(418).json({ own: true });
  }
}

const SECRET = 'secret-value-4711';

@Controller()
class FaultsController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resilience: ResilienceService,
    private readonly breakers: CircuitBreakerRegistry,
  ) {}

  @Get('duplicate')
  duplicate() {
    return this.dataSource.query(`INSERT INTO item (id, name) VALUES (1, '${SECRET}')`);
  }

  @Get('foreign-key')
  foreignKey() {
    return this.dataSource.query(`INSERT INTO child (parent_id, note) VALUES (999, '${SECRET}')`);
  }

  @Get('too-long')
  tooLong() {
    return this.dataSource.query(`INSERT INTO item (id, name) VALUES (2, '${SECRET.repeat(10)}')`);
  }

  @Get('syntax')
  syntax() {
    return this.dataSource.query(`SELEKT '${SECRET}'`);
  }

  @Get('unknown-table')
  unknownTable() {
    return this.dataSource.query(`SELECT * FROM no_such_table WHERE name = '${SECRET}'`);
  }

  @Get('deadlock-in-transaction')
  async deadlockExhausted() {
    // A unit of work that fails with a deadlock on every attempt, as a real one would after its retries.
    return this.resilience.transaction(
      async () => {
        throw Object.assign(new Error(`Deadlock found when trying to get lock; ${SECRET}`), {
          errno: 1213,
          code: 'ER_LOCK_DEADLOCK',
          sqlState: '40001',
        });
      },
      { retry: { maxAttempts: 2, baseDelayMs: 1 } },
    );
  }

  @Get('open-breaker')
  openBreaker() {
    this.breakers.forceOpen('default');
    return this.dataSource.query('SELECT 1');
  }

  @Get('lock-wait')
  lockWait() {
    // The test holds item 1 locked: the wait times out after a second (the session setting restored after).
    return this.resilience.transaction(
      async (manager) => {
        await manager.query('SET SESSION innodb_lock_wait_timeout = 1');
        try {
          await manager.query("UPDATE item SET name = 'waited' WHERE id = 1");
        } finally {
          await manager.query('SET SESSION innodb_lock_wait_timeout = DEFAULT');
        }
      },
      { retry: { maxAttempts: 1 } },
    );
  }

  @Get('connection-killed')
  connectionKilled() {
    return this.dataSource.query('KILL CONNECTION_ID()'); // the server drops this very connection
  }

  @Get('hung')
  hung() {
    return this.resilience.execute(() => this.dataSource.query('SELECT SLEEP(3)'), { deadlineMs: 300 });
  }

  @Get('non-essential')
  @NonEssential()
  nonEssential() {
    return { ok: true };
  }

  @Get('app-error')
  appError() {
    return this.resilience.transaction(async () => {
      throw new InsufficientFunds(SECRET);
    });
  }

  @Get('plain-error')
  plainError() {
    throw new Error(SECRET);
  }

  @Get('not-found')
  notFound() {
    throw new NotFoundException('no such thing');
  }

  @Get('slow')
  async slow() {
    await this.dataSource.query("SELECT SLEEP(0.12) AS slow_probe, 'x' AS v");
    return { ok: true };
  }
}

@Controller('own')
@UseFilters(OwnDuplicateFilter)
class OwnFilterController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('duplicate')
  duplicate() {
    return this.dataSource.query("INSERT INTO item (id, name) VALUES (1, 'again')");
  }
}

describe('exception filter and interceptor (real MariaDB errors through HTTP)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let app: INestApplication;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_http');
    const setup = await scratch.connect();
    await setup.query('CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)');
    await setup.query('INSERT INTO item VALUES (1, "first")');
    await setup.query('CREATE TABLE parent (id INT PRIMARY KEY)');
    await setup.query(
      'CREATE TABLE child (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, note VARCHAR(40), FOREIGN KEY (parent_id) REFERENCES parent (id))',
    );
    await setup.end();

    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          host: '127.0.0.1',
          port: 3306,
          username: 'root',
          password: '',
          database: scratch.database,
          retryAttempts: 0,
        }),
        DatabaseResilienceModule.forRoot({
          requestContext: true,
          queries: { slowQueryMs: 100 },
          http: { slowRequestMs: 100, retryAfterSeconds: 7 },
          healthCheck: { enabled: false },
          alerts: { log: false },
        }),
      ],
      controllers: [FaultsController, OwnFilterController],
      providers: [{ provide: APP_FILTER, useClass: InsufficientFundsFilter }],
    })
    class FaultsModule {}

    const moduleRef = await Test.createTestingModule({ imports: [FaultsModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await scratch?.restoreEnv();
  });

  const get = (path: string) => request(app.getHttpServer()).get(path);

  it.each([
    ['/duplicate', 409, 'DATABASE_CONFLICT'],
    ['/foreign-key', 409, 'DATABASE_CONFLICT'],
    ['/too-long', 422, 'DATABASE_INVALID_DATA'],
    ['/syntax', 500, 'DATABASE_QUERY_ERROR'],
    ['/unknown-table', 500, 'DATABASE_SCHEMA_MISMATCH'],
    ['/deadlock-in-transaction', 503, 'DATABASE_BUSY'],
  ])('%s answers %i %s, with the request id and nothing of the SQL', async (path, status, code) => {
    const response = await get(path).set('x-request-id', `req-${code}`).expect(status);
    expect(response.body).toEqual({
      statusCode: status,
      error: expect.any(String),
      code,
      message: expect.any(String),
      requestId: `req-${code}`,
      ...(status === 503 ? { retryAfterSeconds: 7 } : {}),
    });
    expect(response.headers['x-request-id']).toBe(`req-${code}`);
    if (status === 503) expect(response.headers['retry-after']).toBe('7');
    else expect(response.headers['retry-after']).toBeUndefined();
    expect(JSON.stringify(response.body)).not.toMatch(new RegExp(`${SECRET}|INSERT|SELECT|item|stack`, 'i'));
  });

  it('an open breaker answers 503 with its own Retry-After', async () => {
    const response = await get('/open-breaker').expect(503);
    app.get(CircuitBreakerRegistry).reset('default');
    expect(response.body).toMatchObject({ code: 'DATABASE_CIRCUIT_OPEN', retryAfterSeconds: 60 });
    expect(response.headers['retry-after']).toBe('60');
  });

  /**
   * One decision per failure: the HTTP answer, the category recorded in the history and the category label of
   * db_resilience_errors_total agree, as docs/OPERATIONS.md's table says, for each class of failure met for real.
   * (An unknown commit outcome is tried the same way behind a fault proxy: test/api/http-edge-promises.)
   */
  describe('answer, record and metric agree (docs/OPERATIONS.md)', () => {
    const errorsTotal = async (category: string) => {
      const text = (await get('/metrics')).text;
      const lines = text.split('\n').filter((line) => line.startsWith(`${RESILIENCE_METRICS.errors}{`));
      return lines
        .filter((line) => line.includes(`category="${category}"`))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    };

    it.each([
      ['/deadlock-in-transaction', 503, 'DATABASE_BUSY', 'deadlock'],
      ['/lock-wait', 503, 'DATABASE_BUSY', 'lock_timeout'],
      ['/duplicate', 409, 'DATABASE_CONFLICT', 'integrity'],
      ['/too-long', 422, 'DATABASE_INVALID_DATA', 'data'],
      ['/connection-killed', 503, 'DATABASE_UNAVAILABLE', 'connection'],
      ['/hung', 503, 'DATABASE_TIMEOUT', 'statement_timeout'],
    ])('%s: %i %s, recorded and counted as %s', async (path, status, code, category) => {
      const holder = path === '/lock-wait' ? await scratch.connect() : undefined;
      try {
        if (holder) {
          await holder.query('BEGIN');
          await holder.query('SELECT * FROM item WHERE id = 1 FOR UPDATE');
        }
        const before = await errorsTotal(category);
        const response = await get(path).expect(status);
        expect(response.body.code).toBe(code);
        const [recorded] = app.get(ErrorStatisticsService).recentErrors(1);
        expect(recorded).toMatchObject({ category, route: `GET ${path}`, requestId: response.body.requestId });
        expect((await errorsTotal(category)) - before).toBe(path === '/deadlock-in-transaction' ? 2 : 1); // each attempt
      } finally {
        await holder?.query('ROLLBACK');
        await holder?.end();
      }
    });

    it('circuit open: 503 DATABASE_CIRCUIT_OPEN, counted as a rejection, recorded as no error', async () => {
      const rejections = async () =>
        Number(
          new RegExp(`^${RESILIENCE_METRICS.breakerRejections}\\{database="default"\\} (\\S+)$`, 'm').exec(
            (await get('/metrics')).text,
          )?.[1] ?? 0,
        );
      const recordedBefore = app.get(ErrorStatisticsService).recentErrors(1000).length;
      const before = await rejections();
      const response = await get('/open-breaker').expect(503);
      app.get(CircuitBreakerRegistry).reset('default');
      expect(response.body.code).toBe('DATABASE_CIRCUIT_OPEN');
      expect((await rejections()) - before).toBe(1);
      expect(app.get(ErrorStatisticsService).recentErrors(1000)).toHaveLength(recordedBefore);
    });

    it('degraded: a @NonEssential route answers 503 DEGRADED with Retry-After; nothing is recorded', async () => {
      const degradation = app.get(DegradationService);
      const recordedBefore = app.get(ErrorStatisticsService).recentErrors(1000).length;
      degradation.degrade('maintenance');
      try {
        const response = await get('/non-essential').expect(503);
        expect(response.body).toMatchObject({ code: 'DEGRADED' });
        expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      } finally {
        await degradation.reset();
      }
      await get('/non-essential').expect(200);
      expect(app.get(ErrorStatisticsService).recentErrors(1000)).toHaveLength(recordedBefore);
    });
  });

  it("leaves the app's own errors and filters alone", async () => {
    expect((await get('/app-error').expect(402)).body).toEqual({ mine: true });
    expect((await get('/not-found').expect(404)).body).toMatchObject({ statusCode: 404, message: 'no such thing' });
    expect((await get('/plain-error').expect(500)).body).toEqual({
      statusCode: 500,
      message: 'Internal server error',
    });
    expect((await get('/own/duplicate').expect(418)).body).toEqual({ own: true });
  });

  it('gives each request an id (a safe incoming one is kept) and tags the errors recorded with it and the route', async () => {
    const made = await get('/duplicate').expect(409);
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.body.requestId).toBe(made.headers['x-request-id']);
    const unsafe = await get('/duplicate').set('x-request-id', 'bad id <script>').expect(409);
    expect(unsafe.headers['x-request-id']).not.toContain('<');
    const [recorded] = app.get(ErrorStatisticsService).recentErrors(1);
    expect(recorded).toMatchObject({
      requestId: unsafe.headers['x-request-id'],
      route: 'GET /duplicate',
      category: 'integrity',
      attempt: 1,
    });
  });

  it('records slow statements with their fingerprint and route, and counts slow requests', async () => {
    await get('/slow').expect(200);
    const [slow] = app.get(SlowQueryLog).recent(1);
    expect(slow).toMatchObject({ database: 'default', route: 'GET /slow', requestId: expect.any(String) });
    expect(slow.fingerprint).toBe('SELECT SLEEP(?) AS slow_probe, ? AS v');
    expect(slow.durationMs).toBeGreaterThanOrEqual(100);
    const metrics = await get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^db_resilience_slow_requests_total\{route="GET \/slow"\} [1-9]/m);
    expect(metrics.text).toMatch(/^db_resilience_slow_queries_total\{database="default"\} [1-9]/m);
  });
});
