import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { databaseEnv } from '../../../libs/shared/src/database-env';
import { Account } from './accounts/account.entity';
import { AccountsController } from './accounts/accounts.controller';
import { AccountsService } from './accounts/accounts.service';
import { Transfer } from './accounts/transfer.entity';
import { HealthController } from './health/health.controller';
import { ReportsController } from './reports/reports.controller';
import { resilienceOptionsFromEnv } from './resilience-options';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      useFactory: () => {
        const { engine, ...server } = databaseEnv();
        return {
          type: engine,
          ...server,
          entities: [Account, Transfer],
          // The demo creates its own tables; a real service runs migrations instead.
          synchronize: process.env.DB_SYNCHRONIZE !== 'false',
          retryAttempts: 2,
          retryDelay: 1000,
        };
      },
    }),
    // The demo shows request ids, route tags and the request deadline: requestContext on.
    DatabaseResilienceModule.forRootAsync({ requestContext: true, useFactory: () => resilienceOptionsFromEnv() }),
    TerminusModule,
  ],
  controllers: [AccountsController, ReportsController, HealthController],
  providers: [AccountsService],
})
export class AppModule {}
