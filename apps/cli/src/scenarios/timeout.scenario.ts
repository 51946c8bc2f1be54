import { ResilienceEvents, ResilienceService, resilienceDetailsOf } from 'nestjs-database-resilience';
import { resilientContext } from '../support/resilient-context';
import { waitUntil, withConnections, type ServerTarget } from '../support/server-target';
import { CheckList, type CheckResult, type Scenario } from './scenario-report';

const DEADLINE_MS = 300;

/** A statement past its deadline fails in about the deadline and is gone from the server; a lock wait is retried. */
export class TimeoutScenario implements Scenario {
  readonly name = 'timeout';
  readonly description = `a ${DEADLINE_MS} ms deadline on a 5 s sleep of the server, and a lock wait timeout that is retried`;

  constructor(private readonly target: ServerTarget) {}

  async run(onProgress: (check: CheckResult) => void) {
    const list = new CheckList(onProgress);
    const check = list.add.bind(list);
    const figures: Record<string, number> = {};
    const context = await resilientContext(this.target.env, this.target.database, {});
    try {
      const resilience = context.app.get(ResilienceService);
      const sql = this.target.sql;
      const started = Date.now();
      const error = await resilience
        .execute(() => context.dataSource.query(sql.sleep(5, 'cli_deadline_probe')), { deadlineMs: DEADLINE_MS })
        .catch((e: unknown) => e);
      figures.deadlineFailedAfterMs = Date.now() - started;
      const stillRunning = async () => Number((await context.dataSource.query(sql.running('cli_deadline_probe')))[0].n);
      // Ended by the time the error arrives on MySQL; PostgreSQL's pg_terminate_backend signals, the backend exits.
      await waitUntil(async () => (await stillRunning()) === 0, 'the statement to end', 1000).catch(() => undefined);
      const n = await stillRunning();
      const category = resilienceDetailsOf(error)?.classified.category;
      check(
        'statement deadline',
        category === 'statement_timeout' && figures.deadlineFailedAfterMs < 2000 && Number(n) === 0,
        `failed after ${figures.deadlineFailedAfterMs} ms (${category}), still running on the server: ${n}`,
      );

      await context.dataSource.query('CREATE TABLE IF NOT EXISTS lock_check (id INT PRIMARY KEY, v INT)');
      await context.dataSource.query('DELETE FROM lock_check');
      await context.dataSource.query('INSERT INTO lock_check VALUES (1, 0)');
      let lockWaits = 0;
      let releaseHolder = () => undefined as void;
      context.app.get(ResilienceEvents).subscribe((e) => {
        if (e.type !== 'attempt-failed' || e.error.category !== 'lock_timeout') return;
        lockWaits++;
        releaseHolder(); // the holder lets go once the waiter has timed out: the retry then gets the row
      });
      await withConnections(this.target, 1, async (holder) => {
        await holder.query('BEGIN');
        await holder.query('SELECT * FROM lock_check WHERE id = 1 FOR UPDATE');
        releaseHolder = () => void holder.query('ROLLBACK').catch(() => undefined);
        try {
          await resilience.transaction(
            async (manager) => {
              await manager.query(sql.shortLockWait);
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
        `${lockWaits} lock wait timeout(s) (${sql.lockWaitError}) retried, then committed once`,
      );
    } finally {
      await context.close();
    }
    return { checks: list.all, figures };
  }
}
