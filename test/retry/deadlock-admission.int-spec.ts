import { ResilienceEvents } from 'nestjs-database-resilience';
import {
  moveMoney,
  plannedTransfers,
  runStorm,
  type WorkloadShape,
} from '../../apps/cli/src/scenarios/transfer-workload';
import type { ServerTarget } from '../../apps/cli/src/support/server-target';
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

  async function storm(enabled: boolean, plan: ReturnType<typeof plannedTransfers>, maxAttempts = 30) {
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
            retry: { maxAttempts, baseDelayMs: 2, maxDelayMs: 100 },
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

  it('on, two attempts each: a second attempt after a deadlock runs alone, so no transfer fails', async () => {
    const on = await storm(true, plannedTransfers(SHAPE), 2);
    expect(on.deadlocks).toBeGreaterThan(0); // first attempts did lose
    expect(on.result).toMatchObject({ failures: [], lost: 0, doubled: 0 });
    expect(on.result.ledgerRows).toBe(SHAPE.workers * SHAPE.transfersPerWorker);
  }, 120_000);
});
