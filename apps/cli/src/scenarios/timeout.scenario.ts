import { ResilienceEvents, ResilienceService, resilienceDetailsOf } from 'nestjs-database-resilience';
import { resilientContext } from '../support/resilient-context';
import { withConnections, type ServerTarget } from '../support/server-target';
import { CheckList, type CheckResult, type Scenario } from './scenario-report';

const DEADLINE_MS = 300;

/** A statement past its deadline fails in about the deadline and is gone from the server; a lock wait is retried. */
export class TimeoutScenario implements Scenario {
  readonly name = 'timeout';
  readonly description = `a ${DEADLINE_MS} ms deadline on SELECT SLEEP(5), and a lock wait timeout that is retried`;

  constructor(private readonly target: ServerTarget) {}

  async run(onProgress: (check: CheckResult) => void) {
    const list = new CheckList(onProgress);
    const check = list.add.bind(list);
    const figures: Record<string, number> = {};
    const context = await resilientContext(this.target.env, this.target.database, {});
    try {
      const resilience = context.app.get(ResilienceService);
      const started = Date.now();
      const error = await resilience
        .execute(() => context.dataSource.query('SELECT SLEEP(5) AS cli_deadline_probe'), { deadlineMs: DEADLINE_MS })
        .catch((e: unknown) => e);
      figures.deadlineFailedAfterMs = Date.now() - started;
      const [{ n }] = await context.dataSource.query(
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%cli_deadline_probe%' AND ID <> CONNECTION_ID()",
      );
      const category = resilienceDetailsOf(error)?.classified.category;
      check(
        'statement deadline',
        category === 'statement_timeout' && figures.deadlineFailedAfterMs < 2000 && Number(n) === 0,
        `failed after ${figures.deadlineFailedAfterMs} ms (${category}), still running on the server: ${n}`,
      );

      await context.dataSource.query('CREATE TABLE IF NOT EXISTS lock_check (id INT PRIMARY KEY, v INT) ENGINE=InnoDB');
      await context.dataSource.query('REPLACE INTO lock_check VALUES (1, 0)');
      let lockWaits = 0;
      let releaseHolder = () => undefined as void;
      context.app.get(ResilienceEvents).subscribe((e) => {
        if (e.type !== 'attempt-failed' || e.error.category !== 'lock_timeout') return;
        lockWaits++;
        releaseHolder(); // the holder lets go once the waiter has timed out: the retry then gets the row
      });
      await withConnections(this.target, 1, async (holder) => {
        await holder.query('START TRANSACTION');
        await holder.query('SELECT * FROM lock_check WHERE id = 1 FOR UPDATE');
        releaseHolder = () => void holder.query('ROLLBACK').catch(() => undefined);
        try {
          await resilience.transaction(
            async (manager) => {
              await manager.query('SET SESSION innodb_lock_wait_timeout = 1');
              await manager.query('UPDATE lock_check SET v = v + 1 WHERE id = 1');
            },
            { operation: 'lock-wait', retry: { maxAttempts: 5, baseDelayMs: 200 } },
          );
        } finally {
          await holder.query('ROLLBACK').catch(() => undefined);
        }
      });
      const [{ v }] = await context.dataSource.query('SELECT v FROM lock_check WHERE id = 1');
      figures.lockWaitTimeouts = lockWaits;
      check(
        'lock wait timeout retried',
        lockWaits > 0 && Number(v) === 1,
        `${lockWaits} lock wait timeout(s) (1205) retried, then committed once`,
      );
    } finally {
      await context.close();
    }
    return { checks: list.all, figures };
  }
}
