import type { TestingModule } from '@nestjs/testing';
import { CommandTestFactory } from 'nest-commander-testing';
import { CliModule } from '../../apps/cli/src/cli.module';
import { CliOutput } from '../../apps/cli/src/cli-output';
import type { ScenarioReport } from '../../apps/cli/src/scenarios/scenario-report';
import { EXIT } from '../../apps/cli/src/test-error-handling.command';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { CapturedOutput } from '../support/captured-output';

interface Report {
  server: string;
  passed: boolean;
  scenarios: ScenarioReport[];
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
    await CommandTestFactory.run(command, ['test-error-handling']);
    expect(process.exitCode).toBe(EXIT.passed);
    expect(output.lines.some((l) => l.startsWith('  ✓ lock wait timeout: 1205 → lock_timeout'))).toBe(true);
    expect(output.lines.at(-1)).toBe('PASS: 1/1 scenarios passed');
  });

  it('leaves no scratch database behind', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--json']);
    const { server, passed } = output.json<Report>();
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
    expect(output.errors).toEqual(['test-error-handling: unknown scenario "nope"; expected one of: classification']);
    expect(output.lines).toEqual([]);
  });

  it('exits 2 before running anything for an unparsable DATABASE_URL, without echoing it', async () => {
    process.env.DATABASE_URL = 'not a url :secret';
    await CommandTestFactory.run(command, ['test-error-handling']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors).toEqual([
      'test-error-handling: DATABASE_URL is not a URL; expected mysql://user:password@host:port/database',
    ]);
    expect(output.lines).toEqual([]);
  });
});
