import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatabaseResilienceModule, PoolMonitor } from 'nestjs-database-resilience';
import { scenarioSqlFor } from '../apps/cli/src/support/scenario-sql';
import { databaseEnv } from '../libs/shared/src/database-env';
import type { BenchTable } from './bench-table';
import { openLoopLoad, quantile, type OpenLoopResult } from './open-loop-load';

const POOL = 10;
const SLEEP_MS = 50;
/** What the pool serves: POOL connections, each busy SLEEP_MS a request. */
const CAPACITY = (POOL * 1000) / SLEEP_MS;
const OVERLOAD_RATE = 2 * CAPACITY;
const RUN_MS = 8000;
const ROUNDS = 2;
/** How long the app's own work blocks its event loop at a time, in the starved run. */
const STARVE_MS = 15;

function busyFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until); // the app's own CPU work, as a request that computes
}

type Engine = 'mysql' | 'postgres';
const ENGINE_NAMES: Record<Engine, string> = { mysql: 'MariaDB', postgres: 'PostgreSQL' };

export async function slowApp(engine: Engine, limited: boolean): Promise<{ app: INestApplication; url: string }> {
  const { host, port, username, password, database } = databaseEnv({ DB_ENGINE: engine });
  const sleep = scenarioSqlFor(engine).sleep(SLEEP_MS / 1000, 'slow');
  @Controller()
  class SlowController {
    constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

    /** A statement the server takes SLEEP_MS over: a server made slow. */
    @Get('slow')
    async slow() {
      await this.dataSource.query(sleep);
      return { ok: true };
    }
  }
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: engine, host, port, username, password, database, poolSize: POOL }),
      DatabaseResilienceModule.forRoot({ concurrencyLimit: { enabled: limited }, healthCheck: { enabled: false } }),
    ],
    controllers: [SlowController],
  })
  class OverloadModule {}
  const app = await NestFactory.create(OverloadModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/slow` };
}

/** The statement, as the note shows it. */
const sleepShown = (engine: Engine) =>
  (engine === 'postgres' ? 'SELECT pg_sleep' : 'SELECT SLEEP') + `(${SLEEP_MS / 1000})`;

const ms = (value: number) => (Number.isNaN(value) ? '—' : value < 10 ? value.toFixed(1) : value.toFixed(0));

/** One row: what the answers were, how fast, and the goodput (200s a second, over the time to the last answer). */
function row(name: string, runs: OpenLoopResult[], unloadedP99: number): string[] {
  const answers = runs.flatMap((r) => r.answers);
  const ok = answers.filter((a) => a.status === 200).map((a) => a.ms);
  const failed = answers.filter((a) => a.status !== 200);
  const shed = failed.filter((a) => a.status === 503).map((a) => a.ms);
  const goodput = runs.map((r) => r.answers.filter((a) => a.status === 200).length / (r.wallMs / 1000));
  const p99 = quantile(ok, 0.99);
  return [
    name,
    String(answers.length),
    String(ok.length),
    ms(quantile(ok, 0.5)),
    ms(p99),
    (p99 / unloadedP99).toFixed(2),
    String(shed.length),
    ms(quantile(shed, 0.99)),
    String(failed.length - shed.length),
    goodput.map((g) => g.toFixed(0)).join(' / '),
  ];
}

/**
 * Overload: the server made slow (every request's statement takes 50 ms on it) and twice the requests the pool can
 * serve arriving on a schedule (an open loop), through HTTP, against the same app with a plain pool. The plain pool
 * queues them all: latency climbs to `pool.acquireTimeoutMs`. With `concurrencyLimit` the admitted ones keep their
 * latency and the rest are answered 503 at once.
 */
export async function overloadBench(engine: Engine, starved = false): Promise<BenchTable> {
  const plain = await slowApp(engine, false);
  const limited = await slowApp(engine, true);
  try {
    // Unloaded: a tenth of the capacity, through the plain app.
    const unloaded = await openLoopLoad(plain.url, CAPACITY / 10, 3000);
    const unloadedP99 = quantile(
      unloaded.answers.filter((a) => a.status === 200).map((a) => a.ms),
      0.99,
    );
    // Starved: the app's own CPU work blocks its event loop STARVE_MS of every 2 × STARVE_MS while loaded.
    const starving = starved ? setInterval(() => busyFor(STARVE_MS), 2 * STARVE_MS) : undefined;
    const runs: Record<'plain' | 'limited', OpenLoopResult[]> = { plain: [], limited: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: Array<'plain' | 'limited'> = round % 2 === 0 ? ['plain', 'limited'] : ['limited', 'plain'];
      for (const name of order) {
        runs[name].push(await openLoopLoad((name === 'plain' ? plain : limited).url, OVERLOAD_RATE, RUN_MS));
      }
    }
    clearInterval(starving);
    const [state] = limited.app.get(PoolMonitor).concurrencyLimits();
    return {
      title:
        `Overload on ${ENGINE_NAMES[engine]}: a slow server at twice the load it can serve` +
        (starved ? `, the app's event loop blocked ${STARVE_MS} ms of every ${2 * STARVE_MS} ms ` : ' ') +
        '(target with concurrencyLimit: admitted p99 within 2× unloaded, shed in under 10 ms, goodput no lower than the plain pool)',
      columns: [
        'app',
        'requests',
        'answered 200',
        'p50 of 200s (ms)',
        'p99 of 200s (ms)',
        'p99 over unloaded p99 (×)',
        'answered 503',
        'p99 of 503s (ms)',
        'other failures',
        'goodput, 200s a second (each round)',
      ],
      rows: [
        [
          `unloaded: ${CAPACITY / 10} requests a second, plain pool (baseline)`,
          String(unloaded.answers.length),
          String(unloaded.answers.filter((a) => a.status === 200).length),
          ms(
            quantile(
              unloaded.answers.map((a) => a.ms),
              0.5,
            ),
          ),
          ms(unloadedP99),
          '—',
          '0',
          '—',
          String(unloaded.answers.filter((a) => a.status !== 200).length),
          '—',
        ],
        row('plain pool (pool.acquireTimeoutMs 10 000)', runs.plain, unloadedP99),
        row('concurrencyLimit on (its defaults)', runs.limited, unloadedP99),
      ],
      notes: [
        `The local ${ENGINE_NAMES[engine]}; an HTTP app (Nest, TypeORM, pool of ${POOL}) whose one route runs ${sleepShown(engine)}: ` +
          `the pool serves ${CAPACITY} requests a second. ${OVERLOAD_RATE} requests a second for ${RUN_MS / 1000} s, ` +
          `sent on a schedule from a worker thread whatever the answers (an open loop), ${ROUNDS} rounds per app, which goes ` +
          'first alternating; every answer awaited. Goodput: answers 200 a second, from the first request to the last answer. ' +
          `The limit at the end: ${state?.limit ?? '—'} (the pool's size: ${POOL}), the average time a connection was held ${state?.latencyMs ?? '—'} ms` +
          (starved ? " (the app's event-loop lag taken off)." : '.'),
      ],
    };
  } finally {
    await plain.app.close();
    await limited.app.close();
  }
}
