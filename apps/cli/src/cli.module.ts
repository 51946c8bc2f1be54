import { Module } from '@nestjs/common';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { CliOutput } from './cli-output';
import { ChaosCommand } from './chaos/chaos.command';
import { TestErrorHandlingCommand } from './test-error-handling.command';

@Module({
  imports: [DatabaseResilienceModule.forRoot()],
  providers: [TestErrorHandlingCommand, ChaosCommand, CliOutput],
})
export class CliModule {}
