import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { databaseEnv } from '../../../libs/shared/src/database-env';
import { Account } from './accounts/account.entity';
import { AccountsController } from './accounts/accounts.controller';
import { AccountsService } from './accounts/accounts.service';
import { Transfer } from './accounts/transfer.entity';
import { ReportsController } from './reports/reports.controller';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      useFactory: () => ({
        type: 'mysql',
        ...databaseEnv(),
        entities: [Account, Transfer],
        // The demo creates its own tables; a real service runs migrations instead.
        synchronize: process.env.DB_SYNCHRONIZE !== 'false',
        retryAttempts: 2,
        retryDelay: 1000,
      }),
    }),
    DatabaseResilienceModule.forRoot({
      circuitBreaker: process.env.REDIS_URL
        ? {
            store: {
              type: 'redis',
              url: process.env.REDIS_URL,
              keyPrefix: process.env.REDIS_KEY_PREFIX || 'db-resilience',
            },
          }
        : {},
    }),
  ],
  controllers: [AccountsController, ReportsController],
  providers: [AccountsService],
})
export class AppModule {}
