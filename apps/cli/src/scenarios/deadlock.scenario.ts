import { DeadlockAnalyticsService, ResilienceEvents, ResilienceService } from 'nestjs-database-resilience';
import { resilientContext } from '../support/resilient-context';
import type { ServerTarget } from '../support/server-target';
import { CheckList, type CheckResult, type Scenario } from './scenario-report';
import { moveMoney, runStorm, type WorkloadShape } from './transfer-workload';

/** N workers make real deadlocks; every transfer commits once through the retries; the server's account of the latest deadlock is read. */
export class DeadlockScenario implements Scenario {
  readonly name = 'deadlock';
  readonly description: string;

  constructor(
    private readonly target: ServerTarget,
    private readonly workers: number,
    private readonly print: (line: string) => void,
  ) {
    this.description = `${workers} concurrent workers transfer money, locking rows in random order`;
  }

  async run(onProgress: (check: CheckResult) => void) {
    const shape: WorkloadShape = { workers: this.workers, transfersPerWorker: 25, accounts: 4, openingBalance: 1000 };
    const context = await this.context();
    const list = new CheckList(onProgress);
    const check = list.add.bind(list);
    try {
      const resilience = context.app.get(ResilienceService);
      let deadlocks = 0;
      let retries = 0;
      context.app.get(ResilienceEvents).subscribe((e) => {
        if (e.type !== 'attempt-failed') return;
        if (e.error.category === 'deadlock') deadlocks++;
        if (e.willRetry) retries++;
      });
      const result = await runStorm(context.dataSource, shape, (t) =>
        resilience.transaction((manager) => moveMoney(manager, t), {
          operation: 'transfer',
          retry: { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 100 },
        }),
      );
      const total = shape.workers * shape.transfersPerWorker;
      check('deadlocks happened', deadlocks > 0, `${deadlocks} deadlocks, ${retries} retries`);
      check(
        'every transfer committed once',
        result.failures.length === 0 && result.ledgerRows === total && result.distinctTransfers === total,
        `${result.ledgerRows}/${total} in the ledger, ${result.failures.length} failed`,
      );
      check(
        'balance invariant',
        result.balanceSum === result.expectedSum,
        `sum of balances ${result.balanceSum} (expected ${result.expectedSum})`,
      );

      const analytics = context.app.get(DeadlockAnalyticsService);
      const deadline = Date.now() + 5000;
      let [report] = await analytics.report('default');
      while (report.latest === null && report.deadlocks > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        [report] = await analytics.report('default');
      }
      this.print(
        `    deadlock analytics: ${report.deadlocks} seen by the app, ${report.serverDeadlocks ?? '?'} counted by the server, ${report.clusters} cluster(s)`,
      );
      for (const s of report.topStatements.slice(0, 3)) this.print(`      ${s.deadlocks} × ${s.fingerprint}`);
      if (report.latest) {
        this.print(
          `    the server's latest deadlock (${report.latest.at}), victim: transaction ${report.latest.victim}`,
        );
        for (const t of report.latest.transactions) {
          const waits = t.waitsFor.map((l) => `${l.mode} on ${[l.table, l.index].filter(Boolean).join('.')}`);
          this.print(
            `      (${t.number})${t.victim ? ' victim' : ''} session ${t.sessionId}: ${t.statement} — waits for ${waits.join(', ') || '-'}`,
          );
        }
      }
      check(
        this.target.engine === 'postgres' ? 'deadlock account read' : 'InnoDB report parsed',
        report.latest !== null,
        report.latest
          ? `${report.latest.transactions.length} transactions, victim ${report.latest.victim}`
          : `no report (${this.target.engine === 'postgres' ? 'pg_stat_activity visible to this user?' : 'PROCESS privilege?'})`,
      );
      return {
        checks: list.all,
        figures: {
          workers: shape.workers,
          transfers: total,
          deadlocks,
          retries,
          transfersPerSecond: Math.round(total / result.seconds),
        },
      };
    } finally {
      await context.close();
    }
  }

  /**
   * PostgreSQL looks for a deadlock only after `deadlock_timeout` (1 s by default), so the scenario's sessions ask
   * for 50 ms; a user who may not set it (not a superuser) runs with the server's, only slower.
   */
  private async context() {
    const open = (extra?: Record<string, unknown>) =>
      resilientContext(
        this.target.env,
        this.target.database,
        { deadlocks: { serverReportMinIntervalMs: 0 } },
        this.workers + 2,
        extra,
      );
    if (this.target.engine !== 'postgres') return open();
    return open({ options: '-c deadlock_timeout=50ms' }).catch((error: { code?: string }) => {
      if (error?.code !== '42501') throw error; // permission denied to set parameter
      this.print(
        "    deadlock_timeout stays at the server's (this user may not lower it): deadlocks take longer to break",
      );
      return open();
    });
  }
}
