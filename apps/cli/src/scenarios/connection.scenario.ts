import { ErrorClassifier, ResilienceEvents, ResilienceService } from 'nestjs-database-resilience';
import { resilientContext } from '../support/resilient-context';
import type { ServerTarget } from '../support/server-target';
import { closedPort } from './error-recipes';
import { CheckList, type CheckResult, type Scenario } from './scenario-report';

/** A refused port and a killed connection: classified right, reconnected, and the pool heals. */
export class ConnectionScenario implements Scenario {
  readonly name = 'connection';
  readonly description = 'a refused port and a killed connection are classified, reconnected, and the pool heals';

  constructor(private readonly target: ServerTarget) {}

  async run(onProgress: (check: CheckResult) => void) {
    const list = new CheckList(onProgress);
    const check = list.add.bind(list);
    const figures: Record<string, number> = {};

    const refused = await resilientContext(
      { ...this.target.env, port: await closedPort() },
      this.target.database,
      {},
    ).then(
      (context) => context.close().then(() => undefined),
      (error: unknown) => error,
    );
    const classifiedRefused = new ErrorClassifier().classify(refused);
    check(
      'refused port',
      classifiedRefused.code === 'ECONNREFUSED',
      `${classifiedRefused.code} → ${classifiedRefused.category}/${classifiedRefused.severity}/${classifiedRefused.action}`,
    );

    const context = await resilientContext(this.target.env, this.target.database, {});
    try {
      const resilience = context.app.get(ResilienceService);
      let attempts = 0;
      context.app.get(ResilienceEvents).subscribe((e) => e.type === 'attempt-failed' && attempts++);
      const sql = this.target.sql;
      await context.dataSource.query(
        'CREATE TABLE IF NOT EXISTS connection_check (id INT PRIMARY KEY, note VARCHAR(20))',
      );
      const threads: number[] = [];
      const started = Date.now();
      await resilience.transaction(
        async (manager) => {
          const [{ id }] = await manager.query(sql.sessionId);
          threads.push(Number(id));
          await manager.query('DELETE FROM connection_check WHERE id = 1');
          await manager.query(sql.params('INSERT INTO connection_check VALUES (1, ?)'), ['attempt']);
          if (threads.length === 1) {
            await context.dataSource.query(sql.kill(Number(id)));
            await manager.query('SELECT 1');
          }
        },
        { operation: 'killed-connection' },
      );
      figures.killedConnectionAttempts = threads.length;
      figures.killedConnectionMs = Date.now() - started;
      const [{ n }] = await context.dataSource.query('SELECT COUNT(*) AS n FROM connection_check');
      check(
        'killed connection',
        threads.length === 2 && threads[0] !== threads[1] && Number(n) === 1,
        `re-run on a new connection (session ${threads[0]} → ${threads[1]}), committed once, ${attempts} failed attempt(s)`,
      );

      const healed = await Promise.all(
        Array.from({ length: 20 }, () =>
          resilience
            .execute(() => context.dataSource.query('SELECT 1 AS ok'))
            .then(
              () => true,
              () => false,
            ),
        ),
      );
      check(
        'pool heals',
        healed.every(Boolean),
        `20 concurrent queries after the kill: ${healed.filter(Boolean).length} ok`,
      );
    } finally {
      await context.close();
    }
    return { checks: list.all, figures };
  }
}
