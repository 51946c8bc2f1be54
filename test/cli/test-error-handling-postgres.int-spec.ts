import type { TestingModule } from '@nestjs/testing';
import { CommandTestFactory } from 'nest-commander-testing';
import { Client } from 'pg';
import { CliModule } from '../../apps/cli/src/cli.module';
import { CliOutput } from '../../apps/cli/src/cli-output';
import type { ScenarioReport } from '../../apps/cli/src/scenarios/scenario-report';
import { EXIT } from '../../apps/cli/src/test-error-handling.command';
import { CapturedOutput } from '../support/captured-output';

interface Report {
  server: string;
  passed: boolean;
  scenarios: ScenarioReport[];
}

/**
 * `test-error-handling` against the local PostgreSQL 15 (`DATABASE_URL=postgres://…`): the same five scenarios as
 * on MariaDB, each provoking PostgreSQL's own errors for real, in a scratch database dropped afterwards.
 */
describe('cli test-error-handling on PostgreSQL', () => {
  const savedEnv = { ...process.env };
  let output: CapturedOutput;
  let command: TestingModule;

  beforeEach(async () => {
    process.exitCode = undefined;
    process.env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
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

  it('runs every scenario on PostgreSQL, every check passes, and no scratch database stays', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--json', '--workers', '6']);
    const { server, passed, scenarios } = output.json<Report>();
    const failed = scenarios.flatMap((r) =>
      r.checks.filter((c) => !c.passed).map((c) => `${r.scenario}: ${c.name}: ${c.detail}`),
    );
    expect(failed).toEqual([]);
    expect(passed).toBe(true);
    expect(process.exitCode).toBe(EXIT.passed);
    expect(server).toBe('127.0.0.1:5432');
    const byName = new Map(scenarios.map((r) => [r.scenario, r]));
    expect([...byName.keys()]).toEqual(['connection', 'deadlock', 'timeout', 'circuit-breaker', 'classification']);

    // connection: pg_terminate_backend under an open transaction, re-run on a new session, committed once
    expect(byName.get('connection')!.figures.killedConnectionAttempts).toBe(2);
    // deadlock: real 40P01s retried as whole transactions; the account read from pg_locks / pg_stat_activity
    const deadlock = byName.get('deadlock')!;
    expect(deadlock.figures).toMatchObject({ workers: 6, transfers: 150 });
    expect(deadlock.figures.deadlocks).toBeGreaterThan(0);
    expect(deadlock.checks.find((c) => c.name === 'deadlock account read')?.passed).toBe(true);
    // timeout: the deadline ends the backend; lock_timeout's 55P03 retried
    const timeout = byName.get('timeout')!;
    expect(timeout.figures.deadlineFailedAfterMs).toBeLessThan(2000);
    expect(timeout.figures.lockWaitTimeouts).toBeGreaterThan(0);
    expect(timeout.checks.find((c) => c.name === 'lock wait timeout retried')?.detail).toContain('55P03');
    // circuit-breaker: through a proxy that speaks PostgreSQL's framing
    expect([5, 6]).toContain(byName.get('circuit-breaker')!.figures.failuresBeforeOpen); // a dropped pooled connection: not counted
    // classification: PostgreSQL's SQLSTATEs, provoked for real
    const classification = byName.get('classification')!;
    expect(classification.figures.errorsProvoked).toBeGreaterThanOrEqual(18);
    expect(classification.checks.find((c) => c.name.startsWith('deadlock'))?.detail).toContain(
      '40P01 → deadlock/high/retry, retry: transaction',
    );
    expect(classification.checks.find((c) => c.name.startsWith('serialization'))?.detail).toContain('40001 → deadlock');

    const admin = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await admin.connect();
    try {
      const { rows } = await admin.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [
        `dr_cli_${process.pid}_%`,
      ]);
      expect(rows).toEqual([]);
    } finally {
      await admin.end();
    }
  }, 120_000);

  it('--ephemeral starts a PostgreSQL server of its own for the run', async () => {
    await CommandTestFactory.run(command, ['test-error-handling', '--json', '-s', 'timeout', '--ephemeral']);
    const report = output.json<Report>();
    expect(report.passed).toBe(true);
    expect(process.exitCode).toBe(EXIT.passed);
    expect(report.server).not.toBe('127.0.0.1:5432');
  }, 120_000);

  it('an unreachable PostgreSQL server: exit 2, one line naming host:port and the postgres service', async () => {
    process.env.DATABASE_URL = 'postgres://postgres:secret-pw@127.0.0.1:1/test';
    await CommandTestFactory.run(command, ['test-error-handling']);
    expect(process.exitCode).toBe(EXIT.unusable);
    expect(output.errors).toHaveLength(1);
    expect(output.errors[0]).toContain('127.0.0.1:1 (ECONNREFUSED');
    expect(output.errors[0]).toContain('docker compose up -d postgres');
    expect(output.errors[0]).not.toContain('secret-pw');
  });
});
