import { Module } from '@nestjs/common';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import { CliOutput } from './cli-output';
import { ChaosCommand } from './chaos/chaos.command';
import { TestErrorHandlingCommand } from './test-error-handling.command';

@Module({
  // The scenarios provoke errors on purpose: the CLI's own module counts them (--stats) but raises no alert.
  imports: [DatabaseResilienceModule.forRoot({ alerts: { log: false } })],
  providers: [TestErrorHandlingCommand, ChaosCommand, CliOutput],
})
export class CliModule {}
