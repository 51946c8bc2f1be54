import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { CommandFactory } from 'nest-commander';
import { CliModule } from './cli.module';
import { keepStdoutForTheReport } from './cli-output';
import { EXIT } from './test-error-handling.command';

keepStdoutForTheReport();
// A reader that goes away (`| head`) ends the run quietly; the command's own cleanup still runs on the signal path.
process.stdout.on('error', () => undefined);
// `.env` in the working directory, as README says (variables already set win); said on stderr, never its values.
if (existsSync('.env')) {
  process.loadEnvFile('.env');
  process.stderr.write('cli: read .env from the working directory\n');
}

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
