import { Injectable } from '@nestjs/common';

/**
 * stdout as the process started with it: the report goes there and nothing else does. main.ts sends whatever else
 * writes to stdout (Nest's and libraries' log lines) to stderr, so that `--json | jq` reads JSON only.
 */
const reportStream = {
  write: process.stdout.write.bind(process.stdout) as (text: string) => boolean,
};

/** Everything else written to stdout goes to stderr from now on (log lines of Nest, TypeORM, the scenarios). */
export function keepStdoutForTheReport(): void {
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
}

/** Where the CLI writes: the report to stdout, errors to stderr; a buffer in tests. */
@Injectable()
export class CliOutput {
  line(text = ''): void {
    reportStream.write(`${text}\n`);
  }

  error(text: string): void {
    process.stderr.write(`${text}\n`);
  }
}
