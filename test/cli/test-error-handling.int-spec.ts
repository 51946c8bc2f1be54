import type { TestingModule } from '@nestjs/testing';
import { CommandTestFactory } from 'nest-commander-testing';
import { CliModule } from '../../apps/cli/src/cli.module';
import { CliOutput } from '../../apps/cli/src/cli-output';
import type { ScenarioReport } from '../../apps/cli/src/scenarios/scenario-report';
import { EXIT } from '../../apps/cli/src/test-error-handling.command';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { DegradationService } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { CapturedOutput } from '../support/captured-output';
import { resilientApp } from '../support/resilient-app';

interface Report {
  server: string;
  passed: boolean;
  scenarios: ScenarioReport[];
  statistics?: { window: { errors: number; byCategory: Record<string, number>; recoveryRate: number | null } };
}

describe('cli test-error-handling', () => {
  const savedEnv = { ...process.env };
  let output: CapturedOutput;
  let command: TestingModule;

  beforeEach(async () => {
    process.exitCode = undefined;
    output = new CapturedOutput();
    command = await CommandTestFactory.createTestingCommand({ imports: [CliModule] })
      .overrideProvider(CliOutput)
      .useValue(output)
      .compile();
  });

  afterEach(async () => {
    process.env = { ...savedEnv };
    process.exitCode = undefined;
    await command.close();
  });

  it('runs the classification scenario against the local server and reports every check', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--scenario', 'classification', '--json']);
    const report = output.json<Report>();
    expect(process.exitCode).toBe(EXIT.passed);
    expect(report.passed).toBe(true);
    const [classification] = report.scenarios;
    expect(classification.scenario).toBe('classification');
    expect(classification.figures.errorsProvoked).toBeGreaterThanOrEqual(15);
    expect(classification.figures.classifiedRight).toBe(classification.figures.errorsProvoked);
    expect(classification.checks.find((c) => c.name.startsWith('deadlock'))?.detail).toContain(
      '1213 → deadlock/high/retry',
    );
  });

  it('prints readable progress without --json', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '-s', 'classification']);
    expect(process.exitCode).toBe(EXIT.passed);
    expect(output.lines.some((l) => l.startsWith('  ✓ lock wait timeout: 1205 → lock_timeout'))).toBe(true);
    expect(output.lines.at(-1)).toBe('PASS: 1/1 scenarios passed');
  });

  const runScenario = async (...args: string[]) => {
    await CommandTestFactory.run(command, ['test-error-handling', '--json', ...args]);
    const report = output.json<Report>();
    expect(process.exitCode).toBe(EXIT.passed);
    expect(report.passed).toBe(true);
    return report.scenarios[0];
  };

  it('connection: a refused port classified, a killed connection re-run on a new one, the pool healed', async () => {
    const report = await runScenario('-s', 'connection');
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([
      ['refused port', true],
      ['killed connection', true],
      ['pool heals', true],
    ]);
    expect(report.figures.killedConnectionAttempts).toBe(2);
  });

  it('deadlock: --workers concurrent workers make real deadlocks, every transfer commits once', async () => {
    const report = await runScenario('-s', 'deadlock', '--workers', '6');
    expect(report.figures).toMatchObject({ workers: 6, transfers: 150 });
    expect(report.figures.deadlocks).toBeGreaterThan(0);
    expect(report.checks.find((c) => c.name === 'InnoDB report parsed')?.passed).toBe(true);
  });

  it('timeout: the deadline holds on the server, and a lock wait timeout is retried', async () => {
    const report = await runScenario('-s', 'timeout');
    expect(report.figures.deadlineFailedAfterMs).toBeLessThan(2000);
    expect(report.figures.lockWaitTimeouts).toBeGreaterThan(0);
  });

  it('circuit-breaker: opens at its threshold, rejects without I/O, closes when the server answers', async () => {
    const report = await runScenario('-s', 'circuit-breaker');
    expect([5, 6]).toContain(report.figures.failuresBeforeOpen); // a dropped pooled connection first: not counted
    expect(report.checks.every((c) => c.passed)).toBe(true);
  });

  it('--stats reports the errors of the run by category, with the recovery rate', async () => {
    await runScenario('-s', 'timeout', '--stats');
    const { statistics } = output.json<Report>();
    expect(statistics?.window.byCategory.statement_timeout).toBe(1);
    expect(statistics?.window.byCategory.lock_timeout).toBeGreaterThan(0);
    expect(statistics?.window.recoveryRate).toBe(1);
  });

  it('--ephemeral runs against a throwaway server of its own', async () => {
    const report = await runScenario('-s', 'timeout', '--ephemeral');
    expect(report.passed).toBe(true);
    expect(output.json<Report>().server).not.toBe('127.0.0.1:3306');
  }, 120_000);

  it('--galera runs every scenario on a node of a Galera cluster of its own (galera-4)', async () => {
    await runScenario('--galera');
    const report = output.json<Report>();
    expect(report.scenarios.map((scenario) => [scenario.scenario, scenario.passed])).toEqual([
      ['connection', true],
      ['deadlock', true],
      ['timeout', true],
      ['circuit-breaker', true],
      ['classification', true],
    ]);
    expect(report.server).not.toBe('127.0.0.1:3306');
  }, 180_000);

  it('--reset-degradation ends degradation on the app instances that share REDIS_URL', async () => {
    const keyPrefix = `dr-cli-test-${process.pid}`;
    const app = await resilientApp({
      database: 'test',
      options: {
        sharedState: { store: { type: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix } },
        alerts: { log: false },
      },
    });
    try {
      const degradation = app.module.get(DegradationService);
      degradation.degrade('maintenance');
      process.env.REDIS_URL = 'redis://127.0.0.1:6379';
      process.env.REDIS_KEY_PREFIX = keyPrefix;
      await CommandTestFactory.run(command, ['test-error-handling', '--reset-degradation']);
      expect(process.exitCode).toBe(EXIT.passed);
      expect(output.lines).toEqual([
        `degradation reset sent to the instances sharing 127.0.0.1:6379 (prefix ${keyPrefix})`,
      ]);
      await waitUntil(async () => !degradation.isDegraded(), 'the app to leave degradation');
    } finally {
      await app.close();
    }
  });

  it('--reset-degradation without REDIS_URL exits 2 with the reason', async () => {
    delete process.env.REDIS_URL;
    await CommandTestFactory.run(command, ['test-error-handling', '--reset-degradation']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors[0]).toContain('--reset-degradation needs REDIS_URL');
  });

  it('exits 2 for a bad --workers before anything runs', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--workers', '-3']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors).toEqual(['test-error-handling: --workers must be an integer from 1 to 256 (got "-3")']);
  });

  it('runs every scenario by default, and leaves no scratch database behind', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--json']);
    expect(output.json<Report>().scenarios.map((r) => r.scenario)).toEqual([
      'connection',
      'deadlock',
      'timeout',
      'circuit-breaker',
      'classification',
    ]);
    const { server, passed, scenarios } = output.json<Report>();
    const failed = scenarios.flatMap((r) =>
      r.checks.filter((c) => !c.passed).map((c) => `${r.scenario}: ${c.name}: ${c.detail}`),
    );
    expect(failed).toEqual([]);
    expect(passed).toBe(true);
    expect(server).toBe('127.0.0.1:3306');
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
    try {
      const [rows] = await connection.query(`SHOW DATABASES LIKE 'dr\\_cli\\_${process.pid}\\_%'`);
      expect(rows).toEqual([]);
    } finally {
      await connection.end();
    }
  });

  it('exits 2 with one line naming host:port and how to get a server when the server is unreachable', async () => {
    process.env.DB_PORT = String(await closedPort());
    await CommandTestFactory.run(command, ['test-error-handling']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors).toHaveLength(1);
    expect(output.errors[0]).toContain(`127.0.0.1:${process.env.DB_PORT} (ECONNREFUSED`);
    expect(output.errors[0]).toContain('docker compose up -d mysql');
  });

  it('exits 2 before running anything for an unknown scenario', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--scenario', 'nope']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors).toEqual([
      'test-error-handling: unknown scenario "nope"; expected one of: connection, deadlock, timeout, circuit-breaker, classification',
    ]);
    expect(output.lines).toEqual([]);
  });

  it('exits 2 before running anything for an unparsable DATABASE_URL, without echoing it', async () => {
    process.env.DATABASE_URL = 'not a url :secret';
    await CommandTestFactory.run(command, ['test-error-handling']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors).toEqual([
      'test-error-handling: DATABASE_URL is not a URL; expected mysql://user:password@host:port/database or postgres://…',
    ]);
    expect(output.lines).toEqual([]);
  });
});
