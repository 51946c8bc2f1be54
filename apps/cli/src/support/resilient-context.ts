import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  DatabaseResilienceModule,
  ResilienceEvents,
  type DatabaseResilienceOptions,
  type ResilienceEvent,
} from 'nestjs-database-resilience';
import type { DatabaseEnv } from '../../../../libs/shared/src/database-env';

/** A Nest application context with TypeORM on the target and the resilience module, as an app would have. */
export interface ResilientContext {
  app: INestApplicationContext;
  dataSource: DataSource;
  close(): Promise<void>;
}

let sink: ((event: ResilienceEvent) => void) | undefined;

/** Every event of the contexts made from now on also goes to `listener` (the CLI's --stats). */
export function collectEvents(listener: ((event: ResilienceEvent) => void) | undefined): void {
  sink = listener;
}

/** `driverExtra`: the driver's own settings (TypeORM's `extra`), e.g. PostgreSQL session settings in `options`. */
export async function resilientContext(
  env: DatabaseEnv,
  database: string,
  options: DatabaseResilienceOptions,
  poolSize = 10,
  driverExtra?: Record<string, unknown>,
): Promise<ResilientContext> {
  const { engine: type, host, port, username, password } = env;
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type,
        host,
        port,
        username,
        password,
        database,
        poolSize,
        retryAttempts: 0,
        extra: driverExtra,
      }),
      DatabaseResilienceModule.forRoot(options),
    ],
  })
  class ScenarioModule {}
  const app = await NestFactory.createApplicationContext(ScenarioModule, { logger: false, abortOnError: false });
  if (sink) app.get(ResilienceEvents).subscribe(sink);
  return { app, dataSource: app.get<DataSource>(getDataSourceToken()), close: () => app.close() };
}
