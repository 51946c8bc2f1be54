import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  DatabaseResilienceModule,
  ErrorClassifier,
  ResilienceEvents,
  DeadlockAnalyticsService,
  ErrorStatisticsService,
  HealthReportService,
  type ResilienceEventOf,
} from 'nestjs-database-resilience';
import { moveMoney, runStorm, type WorkloadShape } from '../../apps/cli/src/scenarios/transfer-workload';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

const SHAPE: WorkloadShape = { workers: 8, transfersPerWorker: 40, accounts: 4, openingBalance: 1000 };

describe('deadlock analytics, statistics and reports on a real deadlock storm', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let app: ResilientApp;
  let analytics: DeadlockAnalyticsService;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_deadlocks');
    app = await resilientApp({
      database: scratch.database,
      poolSize: 12,
      options: { deadlocks: { clusterThreshold: 3, serverReportMinIntervalMs: 0 }, alerts: { log: false } },
    });
    analytics = app.module.get(DeadlockAnalyticsService);
    const storm = await runStorm(app.dataSource, SHAPE, (t) =>
      app.resilience.transaction((manager) => moveMoney(manager, t), {
        operation: 'transfer',
        retry: { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 100 },
      }),
    );
    expect(storm.failures).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await scratch?.restoreEnv();
  });

  it('counts deadlocks per database and per statement fingerprint, and detects a cluster', async () => {
    const [report] = await analytics.report('default');
    expect(report.deadlocks).toBeGreaterThan(0);
    expect(report.topStatements[0].fingerprint).toMatch(
      /^(SELECT balance FROM account WHERE id = \? FOR UPDATE|UPDATE account SET balance = balance [-+] \? WHERE id = \?)$/,
    );
    expect(report.topStatements.reduce((sum, s) => sum + s.deadlocks, 0)).toBe(report.deadlocks);
    expect(report.clusters).toBeGreaterThan(0);
    const cluster = app.events.find((e): e is ResilienceEventOf<'deadlock-cluster'> => e.type === 'deadlock-cluster');
    expect(cluster?.deadlocks).toBeGreaterThan(3);
  });

  it("fetches and parses InnoDB's own account of the latest deadlock", async () => {
    await waitUntil(async () => (await analytics.report('default'))[0].latest !== null, 'the InnoDB report');
    const [{ latest, topTablePairs }] = await analytics.report('default');
    expect(latest?.transactions.length).toBeGreaterThanOrEqual(2); // a storm also makes three-way cycles
    expect(latest?.victim).toBeGreaterThan(0);
    expect(latest?.transactions.flatMap((t) => t.tables)).toContain(`${scratch.database}.account`);
    expect(latest?.transactions.every((t) => !/\d{2,}/.test(t.statement))).toBe(true); // values fingerprinted away
    expect(topTablePairs[0].tables).toContain('account');
  });

  it("reads the server's own deadlock counter", async () => {
    const [report] = await analytics.report('default');
    expect(report.serverDeadlocks).toBeGreaterThanOrEqual(report.deadlocks);
  });

  it('shows the deadlocks and the recoveries in the statistics, the history and the health report', async () => {
    const stats = app.module.get(ErrorStatisticsService).statistics({ database: 'default' });
    expect(stats.window.byCategory.deadlock).toBeGreaterThan(0);
    expect(stats.window.recovered).toBeGreaterThan(0);
    expect(stats.window.recoveryRate).toBe(1);
    const [recent] = app.module.get(ErrorStatisticsService).recentErrors(1);
    expect(recent).toMatchObject({
      database: 'default',
      operation: 'transfer',
      category: 'deadlock',
      outcome: 'recovered',
    });
    const [line] = await app.module.get(HealthReportService).report();
    expect(line).toMatch(/^default: \d+ errors in the last 60 min \(deadlock \d+\); 100 % recovered$/);
  });
});

describe('deadlock analytics without the PROCESS privilege', () => {
  it('says so once, and goes on counting', async () => {
    const scratch = await useScratchDatabase('dr_it_noprocess');
    const admin = await scratch.connect();
    const user = `dr_noproc_${process.pid}`;
    await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw-${process.pid}'`);
    await admin.query(`GRANT ALL ON \`${scratch.database}\`.* TO '${user}'@'%'`);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const module = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          host: '127.0.0.1',
          username: user,
          password: `pw-${process.pid}`,
          database: scratch.database,
        }),
        DatabaseResilienceModule.forRoot({ deadlocks: { serverReportMinIntervalMs: 0 }, alerts: { log: false } }),
      ],
    }).compile();
    await module.init();
    try {
      const events = module.get(ResilienceEvents);
      const error = module
        .get(ErrorClassifier)
        .classify({ errno: 1213, message: 'Deadlock found', sql: 'UPDATE t SET a = 1' });
      const analytics = module.get(DeadlockAnalyticsService);
      for (let i = 0; i < 3; i++) {
        events.emit({
          type: 'attempt-failed',
          at: Date.now() + i,
          unitId: i,
          database: 'default',
          operation: 'op',
          requestId: undefined,
          attempt: 1,
          error,
          willRetry: false,
        });
        await waitUntil(
          async () => warn.mock.calls.some(([m]) => String(m).includes('PROCESS privilege')),
          'the warning',
        );
      }
      const [report] = await analytics.report('default');
      expect(report.deadlocks).toBe(3);
      expect(report.latest).toBeNull();
      expect(warn.mock.calls.filter(([m]) => String(m).includes('PROCESS privilege'))).toHaveLength(1);
    } finally {
      warn.mockRestore();
      await module.close();
      await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
      await admin.end();
      await scratch.restoreEnv();
    }
  });
});
