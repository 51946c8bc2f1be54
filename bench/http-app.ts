import 'reflect-metadata';
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
    const { user, system } = process.cpuUsage();
    reply({ cpuUs: user + system });
  });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
  reply({ port: (app.getHttpServer().address() as AddressInfo).port });
}

if (require.main === module) void main(process.argv[2] as HttpAppVariant);
