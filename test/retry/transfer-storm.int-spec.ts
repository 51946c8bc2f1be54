import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ErrorCategory, Retryable, type ResilienceEvent } from 'nestjs-database-resilience';
import { moveMoney, runStorm, STORM, type Transfer } from '../../apps/cli/src/scenarios/transfer-workload';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

const TRANSFERS = STORM.workers * STORM.transfersPerWorker;
/**
 * A storm makes some transfers lose several times in a row (12 in a row has been seen on a loaded machine): enough
 * attempts that all get through.
 */
const STORM_RETRY = { maxAttempts: 30, baseDelayMs: 2, maxDelayMs: 100, budgetMs: 60_000 };

@Injectable()
class DecoratedTransfers {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Retryable(STORM_RETRY)
  transfer(t: Transfer): Promise<void> {
    return this.dataSource.transaction((manager) => moveMoney(manager, t));
  }
}

describe('transfer storm: 16 workers x 100 transfers over 8 accounts, rows locked in random order', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let app: ResilientApp;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_storm');
    app = await resilientApp({ database: scratch.database, poolSize: 20, providers: [DecoratedTransfers] });
  });

  afterAll(async () => {
    await app?.close();
    await scratch?.restoreEnv();
  });

  beforeEach(() => {
    app.events.length = 0;
  });

  const deadlocksRecorded = () =>
    app.events.filter(
      (e: ResilienceEvent) => e.type === 'attempt-failed' && e.error.category === ErrorCategory.DEADLOCK,
    );

  it('through @Retryable: deadlocks happen, every transfer commits exactly once, the sum never changes', async () => {
    const transfers = app.module.get(DecoratedTransfers);
    const result = await runStorm(app.dataSource, STORM, (t) => transfers.transfer(t));
    expect(deadlocksRecorded().length).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result.ledgerRows).toBe(TRANSFERS);
    expect(result.distinctTransfers).toBe(TRANSFERS);
    expect(result.balanceSum).toBe(result.expectedSum);
    expect(
      deadlocksRecorded().every((e) => e.type === 'attempt-failed' && e.operation === 'DecoratedTransfers.transfer'),
    ).toBe(true);
  });

  it('through ResilienceService.transaction: the same', async () => {
    const result = await runStorm(app.dataSource, STORM, (t) =>
      app.resilience.transaction((manager) => moveMoney(manager, t), { operation: 'transfer', retry: STORM_RETRY }),
    );
    expect(deadlocksRecorded().length).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result.ledgerRows).toBe(TRANSFERS);
    expect(result.distinctTransfers).toBe(TRANSFERS);
    expect(result.balanceSum).toBe(result.expectedSum);
  });

  it('without retries the same storm loses transfers (the test can tell)', async () => {
    const result = await runStorm(app.dataSource, STORM, (t) =>
      app.dataSource.transaction((manager) => moveMoney(manager, t)),
    );
    expect(result.failures.length).toBeGreaterThan(0);
    expect(result.ledgerRows).toBe(TRANSFERS - result.failures.length);
    expect(result.balanceSum).toBe(result.expectedSum);
  });
});
