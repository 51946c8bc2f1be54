import { Command, CommandRunner, Option } from 'nest-commander';
import type { DatabaseEngineName } from '../../../../libs/shared/src/database-env';
import { CliOutput } from '../cli-output';
import { EXIT } from '../test-error-handling.command';
import { runChaos } from './chaos-run';
import { runGaleraChaos } from './galera-chaos-run';

const ENGINES: ReadonlyArray<DatabaseEngineName | 'galera'> = ['mysql', 'postgres', 'galera'];

@Command({
  name: 'chaos',
  description:
    'Run apps/api under load on a MariaDB (or, with --engine postgres, a PostgreSQL; with --engine galera, a three-node Galera cluster behind HAProxy) server of its own while faults are injected (about 2.5 minutes), then check the data',
})
export class ChaosCommand extends CommandRunner {
  constructor(private readonly out: CliOutput) {
    super();
  }

  @Option({
    flags: '--engine <engine>',
    description:
      'the server the run starts: mysql (MariaDB, default), postgres (PostgreSQL 15) or galera (three MariaDB nodes with galera-4, behind HAProxy)',
  })
  parseEngine(value: string): string {
    return value; // checked in run(), so that a bad value exits 2 with one line
  }

  async run(_params: string[], options: { engine?: string } = {}): Promise<void> {
    const engine = (options.engine ?? 'mysql') as DatabaseEngineName | 'galera';
    if (!ENGINES.includes(engine)) {
      this.out.error(`chaos: --engine must be one of ${ENGINES.join(', ')} (got "${options.engine}")`);
      process.exitCode = EXIT.unusable;
      return;
    }
    const print = (line: string) => this.out.line(line);
    const checks = engine === 'galera' ? await runGaleraChaos(print) : await runChaos(print, engine);
    print('');
    for (const check of checks) print(`${check.passed ? 'PASS' : 'FAIL'}  ${check.name}: ${check.detail}`);
    const passed = checks.every((c) => c.passed);
    print('');
    print(passed ? 'chaos run: every check passed' : 'chaos run: some checks FAILED');
    process.exitCode = passed ? EXIT.passed : EXIT.failed;
  }
}
