import { Command, CommandRunner, Option } from 'nest-commander';
import { NestFactory } from '@nestjs/core';
import {
  DatabaseResilienceModule,
  DegradationService,
  ErrorClassifier,
  ErrorStatisticsService,
  ResilienceEvents,
  type ErrorStatistics,
} from 'nestjs-database-resilience';
import { databaseEnv, DatabaseEnvError, type DatabaseEnv } from '../../../libs/shared/src/database-env';
import { Redis } from 'ioredis';
import { CliOutput } from './cli-output';
import { CircuitBreakerScenario } from './scenarios/circuit-breaker.scenario';
import { ClassificationScenario } from './scenarios/classification.scenario';
import { ConnectionScenario } from './scenarios/connection.scenario';
import { DeadlockScenario } from './scenarios/deadlock.scenario';
import { TimeoutScenario } from './scenarios/timeout.scenario';
import { collectEvents } from './support/resilient-context';
import type { Scenario, ScenarioReport } from './scenarios/scenario-report';
import { ServerTarget } from './support/server-target';
import { envOf, galeraNode, THROWAWAY, type ThrowawayServer } from './support/throwaway-server';

export const SCENARIOS = ['connection', 'deadlock', 'timeout', 'circuit-breaker', 'classification'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Options {
  scenario?: string[];
  json?: boolean;
  workers?: string;
  ephemeral?: boolean;
  galera?: boolean;
  stats?: boolean;
  resetDegradation?: boolean;
}

const OPTION_NAMES = ['scenario', 'json', 'workers', 'ephemeral', 'galera', 'stats', 'reset-degradation'];

/** Exit codes: 0 every scenario passed, 1 one failed, 2 bad input or no server. */
export const EXIT = { passed: 0, failed: 1, unusable: 2 } as const;

@Command({
  name: 'test-error-handling',
  description: 'Run the error-handling scenarios against a real MySQL/MariaDB or PostgreSQL server',
  options: { isDefault: true },
})
export class TestErrorHandlingCommand extends CommandRunner {
  constructor(
    private readonly classifier: ErrorClassifier,
    private readonly out: CliOutput,
    private readonly events: ResilienceEvents,
    private readonly statistics: ErrorStatisticsService,
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

  @Option({
    flags: '-w, --workers <n>',
    description: 'concurrent workers of the deadlock scenario (1 to 256, default 8)',
  })
  parseWorkers(value: string): string {
    return value; // checked in run(), so that a bad value exits 2 with one line
  }

  @Option({
    flags: '--reset-degradation',
    description: 'end graceful degradation on every app instance that shares REDIS_URL, then exit (runs no scenario)',
  })
  parseResetDegradation(): boolean {
    return true;
  }

  @Option({
    flags: '--stats',
    description: 'print the error statistics of the run (by category, severity, recovery rate)',
  })
  parseStats(): boolean {
    return true;
  }

  @Option({
    flags: '--ephemeral',
    description:
      'start a throwaway server of its own for the run, of the engine DATABASE_URL / DB_ENGINE names (needs mariadbd, or PostgreSQL 15 binaries run as user postgres), removed after',
  })
  parseEphemeral(): boolean {
    return true;
  }

  @Option({
    flags: '--galera',
    description:
      'start a three-node Galera cluster of its own (mariadbd with galera-4) and run on its first node, removed after',
  })
  parseGalera(): boolean {
    return true;
  }

  /** commander must throw (not exit) on a usage error of this sub-command too, so that main.ts exits with 2. */
  override setCommand(command: Parameters<CommandRunner['setCommand']>[0]): this {
    command.exitOverride();
    return super.setCommand(command);
  }

  async run(params: string[], options: Options = {}): Promise<void> {
    process.exitCode = params.length > 0 ? this.strayArguments(params) : await this.execute(options);
  }

  /** `test-error-handling json` (an option typed without `--`) would otherwise be dropped without a word. */
  private strayArguments(params: string[]): number {
    const [first] = params;
    const flag = OPTION_NAMES.find((name) => name === first.replace(/^-?/, ''));
    const hint = flag ? ` (did you mean --${flag}?)` : '';
    return this.unusable(`unexpected argument "${first}"${hint}: options start with "--"; see --help`);
  }

  private async execute(options: Options): Promise<number> {
    if (options.resetDegradation) return this.resetDegradation(options);
    const workers = options.workers === undefined ? 8 : Number(options.workers);
    if (!/^\d+$/.test(options.workers ?? '8') || workers < 1 || workers > 256) {
      return this.unusable(`--workers must be an integer from 1 to 256 (got "${options.workers}")`);
    }
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
    if (options.galera) return this.runOnGalera(options, workers);
    if (!options.ephemeral) return this.runAgainst(env, options, workers);
    // --ephemeral: a server of the target's engine started for the run, removed after.
    const { product, create } = THROWAWAY[env.engine];
    if (!options.json) this.out.line(`starting a throwaway ${product} server...`);
    let server: ThrowawayServer;
    try {
      server = await create();
    } catch (error) {
      return this.unusable(`--ephemeral could not start a server: ${(error as Error).message.split('\n')[0]}`);
    }
    return this.cleaningUp(
      () => server.destroy(),
      () => this.runAgainst(envOf(env.engine, server), options, workers),
    );
  }

  /** --galera: the scenarios on a node of a Galera cluster started for the run (wsrep on, two peers replicating). */
  private async runOnGalera(options: Options, workers: number): Promise<number> {
    if (!options.json) this.out.line('starting a three-node Galera cluster...');
    let cluster: Awaited<ReturnType<typeof galeraNode>>;
    try {
      cluster = await galeraNode();
    } catch (error) {
      return this.unusable(`--galera could not start a cluster: ${(error as Error).message.split('\n')[0]}`);
    }
    const env = envOf('mysql', cluster);
    return this.cleaningUp(
      () => cluster.destroy(),
      () => this.runAgainst(env, options, workers),
    );
  }

  /**
   * Runs `work`, then `cleanup`, and runs `cleanup` too when Ctrl-C (SIGINT) or SIGTERM stops the run: the
   * scratch database is dropped, the throwaway server stopped. Cleanups run newest first, each once.
   */
  private async cleaningUp<T>(cleanup: () => Promise<unknown>, work: () => Promise<T>): Promise<T> {
    let done = false;
    const once = async () => {
      if (done) return;
      done = true;
      await cleanup().catch(() => undefined);
    };
    this.cleanups.push(once);
    if (this.cleanups.length === 1) {
      process.once('SIGINT', this.onSignal);
      process.once('SIGTERM', this.onSignal);
    }
    try {
      return await work();
    } finally {
      this.cleanups.splice(this.cleanups.indexOf(once), 1);
      if (this.cleanups.length === 0) {
        process.off('SIGINT', this.onSignal);
        process.off('SIGTERM', this.onSignal);
      }
      await once();
    }
  }

  private readonly cleanups: Array<() => Promise<void>> = [];
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.out.error(`test-error-handling: ${signal}: cleaning up`);
    void (async () => {
      for (const cleanup of [...this.cleanups].reverse()) await cleanup();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    })();
  };

  private async runAgainst(env: DatabaseEnv, options: Options, workers: number): Promise<number> {
    let target: ServerTarget;
    try {
      target = await ServerTarget.createScratch(env, 'dr_cli');
    } catch (error) {
      const reason = this.classifier.classify(error);
      const hint =
        reason.category === 'authentication'
          ? 'check DB_USER / DB_PASSWORD (or DATABASE_URL) and what that user may do (see .env.example)'
          : `start one with \`docker compose up -d ${env.engine === 'postgres' ? 'postgres' : 'mysql'}\`, or set DATABASE_URL / DB_* (see .env.example)`;
      return this.unusable(
        `cannot use the server at ${env.host}:${env.port} (${reason.code ?? reason.errno ?? reason.category}: ${reason.message}); ${hint}`,
      );
    }
    return this.cleaningUp(
      () => target.dropScratch(),
      () => this.runScenarios(target, options, workers),
    );
  }

  private async runScenarios(target: ServerTarget, options: Options, workers: number): Promise<number> {
    // The CLI's own statistics service (from the module it imports) records what the scenarios' apps record.
    if (options.stats) collectEvents((event) => this.events.emit(event));
    try {
      const selected = options.scenario?.length ? [...new Set(options.scenario as ScenarioName[])] : [...SCENARIOS];
      const reports: ScenarioReport[] = [];
      if (!options.json)
        this.out.line(`test-error-handling against ${target.address} (scratch database ${target.database})`);
      for (const name of selected)
        reports.push(await this.runScenario(this.scenario(name, target, workers, options), options));
      const passed = reports.every((r) => r.passed);
      const stats = options.stats ? this.statistics.statistics({ windowMinutes: 60 }) : undefined;
      if (stats && !options.json) this.printStatistics(stats);
      if (options.json) {
        this.out.line(
          JSON.stringify({ server: target.address, passed, scenarios: reports, statistics: stats }, null, 2),
        );
      } else {
        this.out.line();
        this.out.line(
          `${passed ? 'PASS' : 'FAIL'}: ${reports.filter((r) => r.passed).length}/${reports.length} scenarios passed`,
        );
      }
      return passed ? EXIT.passed : EXIT.failed;
    } finally {
      collectEvents(undefined);
    }
  }

  /** Tells every instance that shares the Redis store (sharedState.store) to end graceful degradation. */
  private async resetDegradation(options: Options): Promise<number> {
    const url = process.env.REDIS_URL;
    if (!url) {
      return this.unusable('--reset-degradation needs REDIS_URL: the Redis the apps share their breaker state through');
    }
    const keyPrefix = process.env.REDIS_KEY_PREFIX || 'db-resilience';
    // The store never fails a publish (an app must not stop for Redis): ask Redis itself whether it is there.
    const unreachable = await redisUnreachable(url);
    if (unreachable)
      return this.unusable(`--reset-degradation: Redis does not answer (${unreachable}); nothing was sent`);
    let app;
    try {
      app = await NestFactory.createApplicationContext(
        DatabaseResilienceModule.forRoot({ sharedState: { store: { type: 'redis', url, keyPrefix } } }),
        { logger: false, abortOnError: false },
      );
    } catch (error) {
      return this.unusable(`--reset-degradation: ${this.classifier.classify(error).message}`);
    }
    try {
      await app.get(DegradationService).reset();
      const where = new URL(url);
      const line = `degradation reset sent to the instances sharing ${where.host} (prefix ${keyPrefix})`;
      if (options.json) this.out.line(JSON.stringify({ resetDegradation: true, redis: where.host, keyPrefix }));
      else this.out.line(line);
      return EXIT.passed;
    } finally {
      await app.close();
    }
  }

  private printStatistics(stats: ErrorStatistics): void {
    const nonZero = (counts: Record<string, number>) =>
      Object.entries(counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none';
    const { window } = stats;
    this.out.line();
    this.out.line('statistics of the run');
    this.out.line(`  errors: ${window.errors}; by category: ${nonZero(window.byCategory)}`);
    this.out.line(`  by severity: ${nonZero(window.bySeverity)}`);
    const rate = window.recoveryRate === null ? 'no retried units' : `${Math.round(window.recoveryRate * 100)} %`;
    this.out.line(`  retried units: ${window.recovered} recovered, ${window.failed} gave up; recovery rate ${rate}`);
  }

  private scenario(name: ScenarioName, target: ServerTarget, workers: number, options: Options): Scenario {
    switch (name) {
      case 'connection':
        return new ConnectionScenario(target);
      case 'deadlock':
        return new DeadlockScenario(target, workers, (line) => options.json || this.out.line(line));
      case 'timeout':
        return new TimeoutScenario(target);
      case 'circuit-breaker':
        return new CircuitBreakerScenario(target);
      case 'classification':
        return new ClassificationScenario(this.classifier, target, (error, recipe) =>
          // Provoked outside a unit of work, so no guard reports them: recorded as the failed call each one is.
          this.events.emit({
            type: 'attempt-failed',
            at: Date.now(),
            unitId: 0, // a unit of one attempt: nothing waits for its outcome
            database: target.database,
            operation: `classification: ${recipe}`,
            requestId: undefined,
            attempt: 1,
            error,
            willRetry: false,
          }),
        );
    }
  }

  private async runScenario(scenario: Scenario, options: Options): Promise<ScenarioReport> {
    if (!options.json) {
      this.out.line();
      this.out.line(`▶ ${scenario.name}: ${scenario.description}`);
    }
    const started = Date.now();
    const progress = (check: { passed: boolean; name: string; detail: string }) => {
      if (!options.json) this.out.line(`  ${check.passed ? '✓' : '✗'} ${check.name}: ${check.detail}`);
    };
    const result = await scenario.run(progress).catch((error: unknown) => {
      const failed = {
        name: 'scenario ran to its end',
        passed: false,
        detail: this.classifier.classify(error).message,
      };
      progress(failed);
      return { checks: [failed], figures: {} };
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

/** Why the Redis at `url` does not answer a PING within a second, or undefined if it does. */
async function redisUnreachable(url: string): Promise<string | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined); // the reason comes from connect() / ping() below
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return String((error as Error).message).split('\n')[0]; // ioredis says host and port, never the password
  } finally {
    redis.disconnect();
  }
}
