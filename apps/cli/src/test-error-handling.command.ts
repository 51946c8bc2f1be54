import { Command, CommandRunner, Option } from 'nest-commander';
import { ErrorClassifier } from 'nestjs-database-resilience';
import { databaseEnv, DatabaseEnvError, type DatabaseEnv } from '../../../libs/shared/src/database-env';
import { CliOutput } from './cli-output';
import { ClassificationScenario } from './scenarios/classification.scenario';
import type { Scenario, ScenarioReport } from './scenarios/scenario-report';
import { ServerTarget } from './support/server-target';

export const SCENARIOS = ['classification'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Options {
  scenario?: string[];
  json?: boolean;
}

/** Exit codes: 0 every scenario passed, 1 one failed, 2 bad input or no server. */
export const EXIT = { passed: 0, failed: 1, unusable: 2 } as const;

@Command({
  name: 'test-error-handling',
  description: 'Run the error-handling scenarios against a real MySQL/MariaDB server',
  options: { isDefault: true },
})
export class TestErrorHandlingCommand extends CommandRunner {
  constructor(
    private readonly classifier: ErrorClassifier,
    private readonly out: CliOutput,
  ) {
    super();
  }

  @Option({
    flags: '-s, --scenario <name>',
    description: `scenario to run (repeatable): ${SCENARIOS.join(', ')}; default all`,
  })
  parseScenario(value: string, previous: string[] = []): string[] {
    return [...previous, ...value.split(',').map((v) => v.trim())];
  }

  @Option({ flags: '--json', description: 'print the report as JSON' })
  parseJson(): boolean {
    return true;
  }

  /** commander must throw (not exit) on a usage error of this sub-command too, so that main.ts exits with 2. */
  override setCommand(command: Parameters<CommandRunner['setCommand']>[0]): this {
    command.exitOverride();
    return super.setCommand(command);
  }

  async run(_params: string[], options: Options = {}): Promise<void> {
    process.exitCode = await this.execute(options);
  }

  private async execute(options: Options): Promise<number> {
    const unknown = options.scenario?.filter((name) => !SCENARIOS.includes(name as ScenarioName)) ?? [];
    if (unknown.length > 0)
      return this.unusable(`unknown scenario "${unknown[0]}"; expected one of: ${SCENARIOS.join(', ')}`);
    let env: DatabaseEnv;
    try {
      env = databaseEnv();
    } catch (error) {
      if (error instanceof DatabaseEnvError) return this.unusable(error.message);
      throw error;
    }
    let target: ServerTarget;
    try {
      target = await ServerTarget.createScratch(env, 'dr_cli');
    } catch (error) {
      const reason = this.classifier.classify(error);
      return this.unusable(
        `cannot use the server at ${env.host}:${env.port} (${reason.code ?? reason.errno ?? reason.category}: ${reason.message}); ` +
          'start one with `docker compose up -d mysql`, or set DATABASE_URL / DB_* (see .env.example)',
      );
    }
    try {
      const selected = options.scenario?.length ? [...new Set(options.scenario as ScenarioName[])] : [...SCENARIOS];
      const reports: ScenarioReport[] = [];
      if (!options.json)
        this.out.line(`test-error-handling against ${target.address} (scratch database ${target.database})`);
      for (const name of selected) reports.push(await this.runScenario(this.scenario(name, target), options));
      const passed = reports.every((r) => r.passed);
      if (options.json) this.out.line(JSON.stringify({ server: target.address, passed, scenarios: reports }, null, 2));
      else {
        this.out.line();
        this.out.line(
          `${passed ? 'PASS' : 'FAIL'}: ${reports.filter((r) => r.passed).length}/${reports.length} scenarios passed`,
        );
      }
      return passed ? EXIT.passed : EXIT.failed;
    } finally {
      await target.dropScratch().catch(() => undefined);
    }
  }

  private scenario(name: ScenarioName, target: ServerTarget): Scenario {
    switch (name) {
      case 'classification':
        return new ClassificationScenario(this.classifier, target);
    }
  }

  private async runScenario(scenario: Scenario, options: Options): Promise<ScenarioReport> {
    if (!options.json) {
      this.out.line();
      this.out.line(`▶ ${scenario.name}: ${scenario.description}`);
    }
    const started = Date.now();
    const result = await scenario.run((check) => {
      if (!options.json) this.out.line(`  ${check.passed ? '✓' : '✗'} ${check.name}: ${check.detail}`);
    });
    const report = {
      scenario: scenario.name,
      durationMs: Date.now() - started,
      passed: result.checks.every((c) => c.passed),
      ...result,
    };
    if (!options.json) {
      const figures = Object.entries(report.figures)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      this.out.line(`  ${report.passed ? 'PASS' : 'FAIL'} ${scenario.name} in ${report.durationMs} ms (${figures})`);
    }
    return report;
  }

  private unusable(reason: string): number {
    this.out.error(`test-error-handling: ${reason}`);
    return EXIT.unusable;
  }
}
