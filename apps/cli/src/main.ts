import 'reflect-metadata';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli.module';
import { EXIT } from './test-error-handling.command';

const HELP_CODES = ['commander.helpDisplayed', 'commander.help', 'commander.version'];

/** commander has already printed its one-line reason (unknown option, missing value); help is no error. */
function exitOnError(error: Error): void {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('commander.')) {
    process.exitCode = HELP_CODES.includes(code) ? EXIT.passed : EXIT.unusable;
    return;
  }
  process.stderr.write(`test-error-handling: ${error.message}\n`);
  process.exitCode = EXIT.failed;
}

void CommandFactory.run(CliModule, {
  logger: ['error', 'warn'],
  errorHandler: exitOnError,
  serviceErrorHandler: exitOnError,
}).catch(exitOnError);
