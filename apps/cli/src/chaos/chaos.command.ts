import { Command, CommandRunner } from 'nest-commander';
import { CliOutput } from '../cli-output';
import { EXIT } from '../test-error-handling.command';
import { runChaos } from './chaos-run';

@Command({
  name: 'chaos',
  description:
    'Run apps/api under load on a MariaDB of its own while faults are injected (about 2.5 minutes), then check the data',
})
export class ChaosCommand extends CommandRunner {
  constructor(private readonly out: CliOutput) {
    super();
  }

  async run(): Promise<void> {
    const print = (line: string) => this.out.line(line);
    const checks = await runChaos(print);
    print('');
    for (const check of checks) print(`${check.passed ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`);
    const passed = checks.every((c) => c.passed);
    print('');
    print(passed ? 'chaos run: every check passed' : 'chaos run: some checks FAILED');
    process.exitCode = passed ? EXIT.passed : EXIT.failed;
  }
}
