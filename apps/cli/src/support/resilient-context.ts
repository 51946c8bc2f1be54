import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatabaseResilienceModule, type DatabaseResilienceOptions } from 'nestjs-database-resilience';
import type { DatabaseEnv } from '../../../../libs/shared/src/database-env';

/** A Nest application context with TypeORM on the target and the resilience module, as an app would have. */
export interface ResilientContext {
  app: INestApplicationContext;
  dataSource: DataSource;
  close(): Promise<void>;
}

export async function resilientContext(
  env: DatabaseEnv,
  database: string,
  options: DatabaseResilienceOptions,
  poolSize = 10,
): Promise<ResilientContext> {
  const { host, port, username, password } = env;
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'mysql', host, port, username, password, database, poolSize, retryAttempts: 0 }),
      DatabaseResilienceModule.forRoot(options),
    ],
  })
  class ScenarioModule {}
  const app = await NestFactory.createApplicationContext(ScenarioModule, { logger: false, abortOnError: false });
  return { app, dataSource: app.get<DataSource>(getDataSourceToken()), close: () => app.close() };
}
