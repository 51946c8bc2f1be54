import 'reflect-metadata';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { databaseEnv } from '../libs/shared/src/database-env';
import { PingController } from './ping-app';

/**
 * Run under `valgrind --tool=callgrind` by http-instructions.bench.ts: `<with|without> <requests>` boots the
 * one-`SELECT 1` app with or without the module (PROBE_OPTIONS: more module options, as JSON) and sends it that
 * many requests one after another on a keep-alive connection.
 */
const [variant, count] = process.argv.slice(2);
const typeorm = TypeOrmModule.forRoot({ type: 'mysql', ...databaseEnv(), poolSize: 2, retryAttempts: 0 });

@Module({
  imports: [
    typeorm,
    ...(variant === 'with'
      ? [
          DatabaseResilienceModule.forRoot({
            healthCheck: { enabled: false },
            ...JSON.parse(process.env.PROBE_OPTIONS ?? '{}'),
          }),
        ]
      : []),
  ],
  controllers: [PingController],
})
class ProbeModule {}

void (async () => {
  const app = await NestFactory.create(ProbeModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < Number(count); i++) {
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/ping', agent }, (response) => {
        response.resume();
        response.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
  }
  agent.destroy();
  await app.close();
})();
