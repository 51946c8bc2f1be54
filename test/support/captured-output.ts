import { CliOutput } from '../../apps/cli/src/cli-output';

/** CliOutput that keeps what the CLI printed, for assertions. */
export class CapturedOutput extends CliOutput {
  readonly lines: string[] = [];
  readonly errors: string[] = [];

  override line(text = ''): void {
    this.lines.push(text);
  }

  override error(text: string): void {
    this.errors.push(text);
  }

  json<T>(): T {
    return JSON.parse(this.lines.join('\n')) as T;
  }
}
