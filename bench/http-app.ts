import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { databaseEnv } from '../libs/shared/src/database-env';
import { PingController } from './ping-app';

/** Which app this process runs: the HTTP benchmark starts one process per variant. */
export type HttpAppVariant = 'without' | 'with' | 'with request context';

/** Messages between the HTTP benchmark and an app process. */
export type HttpAppMessage = { port: number } | { cpuUs: number };

export const BENCH_POOL_SIZE = 10;

/**
 * CPU time of every thread of this process, in µs, from the scheduler's own accounting (/proc/self/task/N/schedstat,
 * in ns). process.cpuUsage() (getrusage) is counted in clock ticks on this kernel: over a 2-second round it moved
 * by ±10 % on its own.
 */
export function cpuTimeUs(): number {
  let ns = 0;
  for (const task of readdirSync('/proc/self/task')) {
    try {
      ns += Number(readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1000;
}

/**
 * The one-`SELECT 1` app in a process of its own (`node http-app.js <variant>`): one process per variant, so
 * that neither JIT-compiled code nor an AsyncLocalStorage in use is shared between the apps compared. It tells
 * the parent its port, and its CPU time whenever asked (the message `cpu`).
 */
async function main(variant: HttpAppVariant): Promise<void> {
  const resilience =
    variant === 'without'
      ? []
      : [DatabaseResilienceModule.forRoot({ requestContext: variant === 'with request context' })];

  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'mysql', ...databaseEnv(), poolSize: BENCH_POOL_SIZE, retryAttempts: 0 }),
      ...resilience,
    ],
    controllers: [PingController],
  })
  class HttpAppModule {}

  const app = await NestFactory.create(HttpAppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const reply = (message: HttpAppMessage) => process.send!(message);
  process.on('message', (message) => {
    if (message !== 'cpu') return;
    reply({ cpuUs: cpuTimeUs() });
  });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
  reply({ port: (app.getHttpServer().address() as AddressInfo).port });
}

if (require.main === module) void main(process.argv[2] as HttpAppVariant);
