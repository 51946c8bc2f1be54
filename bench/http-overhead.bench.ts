import 'reflect-metadata';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { databaseEnv } from '../libs/shared/src/database-env';
import { PingController } from './ping-app';
import type { BenchTable } from './bench-table';

const CONNECTIONS = 10;
const SECONDS = 2;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);

const typeorm = () =>
  TypeOrmModule.forRoot({ type: 'mysql', ...databaseEnv(), poolSize: CONNECTIONS, retryAttempts: 0 });

/** The same app three times: without the module, with `forRoot()` alone, and with the request context on. */
@Module({ imports: [typeorm()], controllers: [PingController] })
class WithoutModule {}

@Module({ imports: [typeorm(), DatabaseResilienceModule.forRoot()], controllers: [PingController] })
class WithModule {}

@Module({
  imports: [typeorm(), DatabaseResilienceModule.forRoot({ requestContext: true, metricsPath: false })],
  controllers: [PingController],
})
class WithRequestContext {}

interface Autocannon {
  /** Added here: CPU time this process (the apps) spent per request answered, in µs. */
  cpuPerRequestUs: number;
  requests: { average: number; total: number };
  latency: { average: number; p99: number };
  non2xx: number;
  errors: number;
}

/** autocannon in a process of its own, so that the load generator does not share the apps' event loop. */
async function load(url: string, seconds: number): Promise<Autocannon> {
  const cpuBefore = process.cpuUsage();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [require.resolve('autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(seconds), '--json', url],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const cpu = process.cpuUsage(cpuBefore);
  const result = JSON.parse(stdout) as Autocannon;
  result.cpuPerRequestUs = (cpu.user + cpu.system) / result.requests.total;
  return result;
}

async function start(module: new () => unknown): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(module, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/ping` };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * What the module adds to a request that runs one `SELECT 1` on loopback: the connection guard (breaker
 * admission, idle check, the statement's timeout and timing), the metrics, the exception filter's presence.
 * Each round runs the three apps in turn; the overhead is the median over the rounds of the per-round ratio
 * of time per request, so that drift (this 2-core machine also runs MariaDB and autocannon) falls on all.
 */
export async function httpOverheadBench(): Promise<BenchTable> {
  const apps = [
    { name: 'the same app without the module (baseline)', ...(await start(WithoutModule)) },
    { name: 'with DatabaseResilienceModule.forRoot()', ...(await start(WithModule)) },
    { name: 'with forRoot({ requestContext: true })', ...(await start(WithRequestContext)) },
  ];
  try {
    for (const app of apps) await load(app.url, 2); // warm-up: JIT, pools filled
    const runs = apps.map(() => [] as Autocannon[]);
    // The order turns each round, so that no app always runs first (or right after a given other).
    for (let round = 0; round < ROUNDS; round++)
      for (let k = 0; k < apps.length; k++) {
        const i = (round + k) % apps.length;
        runs[i][round] = await load(apps[i].url, SECONDS);
      }
    const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;
    const rows = apps.map((app, i) => {
      const list = runs[i];
      const timeOver = list.map((r, round) => (runs[0][round].requests.average / r.requests.average - 1) * 100);
      const cpuOver = list.map((r, round) => (r.cpuPerRequestUs / runs[0][round].cpuPerRequestUs - 1) * 100);
      return [
        app.name,
        median(list.map((r) => r.requests.average)).toFixed(0),
        `${median(list.map((r) => r.latency.average)).toFixed(2)} ms`,
        `${median(list.map((r) => r.cpuPerRequestUs)).toFixed(0)} µs`,
        String(list.reduce((sum, r) => sum + r.non2xx + r.errors, 0)),
        i === 0 ? '—' : signed(median(cpuOver)),
        i === 0 ? '—' : signed(median(timeOver)),
        i === 0 ? '' : cpuOver.map((o) => o.toFixed(0)).join(' / '),
      ];
    });
    return {
      title: `HTTP request running one SELECT 1 (autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s per app)`,
      columns: [
        'app',
        'requests/s (median)',
        'mean latency (median)',
        'app CPU per request (median)',
        'failed',
        'CPU per request over the baseline (median of rounds)',
        'wall time per request over the baseline (median of rounds)',
        'CPU over the baseline per round, %',
      ],
      rows,
      notes: [
        'All apps in one process on the local MariaDB; autocannon in a child process. Target for forRoot(): under 5 %. ' +
          'The CPU figure (this process only, per request answered) is the steadier one: wall time on this 2-core VM ' +
          'also moves with MariaDB and autocannon, which share the cores.',
        '`requestContext: true` adds a middleware that runs each request inside AsyncLocalStorage (request id, route, ' +
          'request deadline); on Node 20 that makes every promise of the request dearer, hence it is off by default.',
      ],
    };
  } finally {
    for (const app of apps) await app.app.close();
  }
}
