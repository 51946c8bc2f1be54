import { ResilienceEvents } from 'nestjs-database-resilience';
import {
  moveMoney,
  plannedTransfers,
  runStorm,
  type WorkloadShape,
} from '../../apps/cli/src/scenarios/transfer-workload';
import { ServerTarget } from '../../apps/cli/src/support/server-target';
import { databaseEnv } from '../../libs/shared/src/database-env';
import { DeadlockAdmissions } from '../../libs/database-resilience/src/retry/deadlock-admission';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

const SHAPE: WorkloadShape = { workers: 12, transfersPerWorker: 40, accounts: 4, openingBalance: 1000 };

/**
 * Deadlock-aware admission on a real storm (MariaDB): the same planned transfers through `transaction()` with it
 * off and on. On: the operation's limit engages after its deadlocks, every transfer commits once, and the server
 * meets fewer deadlocks than with every worker let in at once.
 */
describe('deadlock-aware admission (deadlockAdmission) in a deadlock storm', () => {
  let scratch: ServerTarget & { restoreEnv(): Promise<void> };
  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_admission');
  });
  afterAll(() => scratch?.restoreEnv());

  async function storm(enabled: boolean, plan: ReturnType<typeof plannedTransfers>) {
    const app: ResilientApp = await resilientApp({
      database: scratch.database,
      poolSize: SHAPE.workers + 2,
      options: { healthCheck: { enabled: false }, deadlockAdmission: { enabled } },
    });
    try {
      let deadlocks = 0;
      let limited = false;
      const admissions = app.module.get(DeadlockAdmissions);
      app.module.get(ResilienceEvents).subscribe((e) => {
        if (e.type !== 'attempt-failed' || e.error.category !== 'deadlock') return;
        deadlocks++;
        limited ||= admissions.states().some((s) => s.operation === 'transfer' && s.limit !== null);
      });
      const result = await runStorm(
        app.dataSource,
        SHAPE,
        (t) =>
          app.resilience.transaction((manager) => moveMoney(manager, t), {
            operation: 'transfer',
            retry: { maxAttempts: 30, baseDelayMs: 2, maxDelayMs: 100 },
          }),
        plan,
      );
      return { result, deadlocks, limited, states: admissions.states() };
    } finally {
      await app.close();
    }
  }

  it('on: the limit engages, every transfer commits once, fewer deadlocks than off', async () => {
    const plan = plannedTransfers(SHAPE);
    const off = await storm(false, plan);
    const on = await storm(true, plan);
    console.log(`[admission] deadlocks: off ${off.deadlocks}, on ${on.deadlocks}`);
    const total = SHAPE.workers * SHAPE.transfersPerWorker;
    for (const { result } of [off, on]) {
      expect(result).toMatchObject({ failures: [], lost: 0, doubled: 0, ledgerRows: total });
      expect(result.balanceSum).toBe(result.expectedSum);
    }
    expect(off.limited).toBe(false);
    expect(off.states).toEqual([]);
    expect(on.limited).toBe(true);
    expect(on.states).toEqual([expect.objectContaining({ database: 'default', operation: 'transfer', inFlight: 0 })]);
    expect(off.deadlocks).toBeGreaterThan(0);
    expect(on.deadlocks).toBeLessThan(off.deadlocks);
  }, 120_000);
});

/**
 * The last attempt after a deadlock runs alone among its operation's units, on both engines: with two attempts per
 * transfer, a second attempt that followed a deadlock cannot lose another, so no transfer fails.
 */
describe.each([
  ['MariaDB', databaseEnv({ DB_ENGINE: 'mysql' })],
  ['PostgreSQL', databaseEnv({ DB_ENGINE: 'postgres' })],
])('deadlock-aware admission on %s: a last attempt runs alone', (_name, env) => {
  let target: ServerTarget;
  beforeAll(async () => {
    target = await ServerTarget.createScratch(env, 'dr_alone');
  }, 60_000);
  afterAll(() => target?.dropScratch());

  it('two attempts each: every transfer commits once, none fails', async () => {
    const app = await resilientApp({
      database: target.database,
      poolSize: SHAPE.workers + 2,
      // PostgreSQL finds a deadlock after deadlock_timeout (1 s by default): this session's own, shorter.
      postgres:
        env.engine === 'postgres' ? { schema: 'public', extra: { options: '-c deadlock_timeout=50' } } : undefined,
      options: { healthCheck: { enabled: false } },
    });
    try {
      let deadlocks = 0;
      app.module.get(ResilienceEvents).subscribe((e) => {
        if (e.type === 'attempt-failed' && e.error.category === 'deadlock') deadlocks++;
      });
      const result = await runStorm(app.dataSource, SHAPE, (t) =>
        app.resilience.transaction((manager) => moveMoney(manager, t), {
          operation: 'transfer',
          retry: { maxAttempts: 2, baseDelayMs: 2, maxDelayMs: 100 },
        }),
      );
      expect(deadlocks).toBeGreaterThan(0); // first attempts did lose
      expect(result).toMatchObject({ failures: [], lost: 0, doubled: 0 });
      expect(result.ledgerRows).toBe(SHAPE.workers * SHAPE.transfersPerWorker);
      expect(result.balanceSum).toBe(result.expectedSum);
    } finally {
      await app.close();
    }
  }, 120_000);
});
