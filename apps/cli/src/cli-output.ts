import { Injectable } from '@nestjs/common';

/** Where the CLI writes: stdout in real runs, a buffer in tests. */
@Injectable()
export class CliOutput {
  line(text = ''): void {
    process.stdout.write(`${text}\n`);
  }

  error(text: string): void {
    process.stderr.write(`${text}\n`);
  }
}
