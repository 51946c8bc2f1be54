import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { ErrorCategory, Retryable, type ResilienceEvent } from 'nestjs-database-resilience';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

const WORKERS = 16;
const TRANSFERS_PER_WORKER = 100;
const ACCOUNTS = 8;
const OPENING_BALANCE = 1000;
/** A storm makes some transfers lose several times in a row; enough attempts that all get through. */
const STORM_RETRY = { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 100, budgetMs: 60_000 };

interface Transfer {
  id: number;
  from: number;
  to: number;
  amount: number;
}

/** One transfer: both rows locked in the order given (random, so that transfers deadlock), a ledger row. */
async function moveMoney(manager: EntityManager, t: Transfer): Promise<void> {
  const [first, second] = Math.random() < 0.5 ? [t.from, t.to] : [t.to, t.from];
  await manager.query('SELECT balance FROM account WHERE id = ? FOR UPDATE', [first]);
  await manager.query('SELECT balance FROM account WHERE id = ? FOR UPDATE', [second]);
  await manager.query('UPDATE account SET balance = balance - ? WHERE id = ?', [t.amount, t.from]);
  await manager.query('UPDATE account SET balance = balance + ? WHERE id = ?', [t.amount, t.to]);
  await manager.query('INSERT INTO ledger (transfer_id, from_id, to_id, amount) VALUES (?, ?, ?, ?)', [
    t.id,
    t.from,
    t.to,
    t.amount,
  ]);
}

@Injectable()
class DecoratedTransfers {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Retryable(STORM_RETRY)
  transfer(t: Transfer): Promise<void> {
    return this.dataSource.transaction((manager) => moveMoney(manager, t));
  }
}

function plannedTransfers(): Transfer[][] {
  let id = 0;
  return Array.from({ length: WORKERS }, () =>
    Array.from({ length: TRANSFERS_PER_WORKER }, () => {
      const from = 1 + Math.floor(Math.random() * ACCOUNTS);
      const to = 1 + ((from + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS);
      return { id: ++id, from, to, amount: 1 + Math.floor(Math.random() * 10) };
    }),
  );
}

async function resetTables(dataSource: DataSource): Promise<void> {
  await dataSource.query('DROP TABLE IF EXISTS ledger, account');
  await dataSource.query('CREATE TABLE account (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB');
  await dataSource.query(
    'CREATE TABLE ledger (transfer_id INT PRIMARY KEY, from_id INT NOT NULL, to_id INT NOT NULL, amount INT NOT NULL) ENGINE=InnoDB',
  );
  const rows = Array.from({ length: ACCOUNTS }, (_, i) => `(${i + 1}, ${OPENING_BALANCE})`).join(', ');
  await dataSource.query(`INSERT INTO account VALUES ${rows}`);
}

/** Runs the storm and checks the invariants: every transfer once in the ledger, balances' sum unchanged. */
async function storm(app: ResilientApp, transfer: (t: Transfer) => Promise<void>) {
  await resetTables(app.dataSource);
  app.events.length = 0;
  const plan = plannedTransfers();
  const failures: unknown[] = [];
  await Promise.all(
    plan.map(async (transfers) => {
      for (const t of transfers) await transfer(t).catch((error: unknown) => failures.push(error));
    }),
  );
  const [{ n, distinct_ids: distinct }] = await app.dataSource.query(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT transfer_id) AS distinct_ids FROM ledger',
  );
  const [{ total }] = await app.dataSource.query('SELECT SUM(balance) AS total FROM account');
  const deadlocks = app.events.filter(
    (e: ResilienceEvent) => e.type === 'attempt-failed' && e.error.category === ErrorCategory.DEADLOCK,
  );
  return { failures, ledgerRows: Number(n), distinctTransfers: Number(distinct), total: Number(total), deadlocks };
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

  it('through @Retryable: deadlocks happen, every transfer commits exactly once, the sum never changes', async () => {
    const transfers = app.module.get(DecoratedTransfers);
    const result = await storm(app, (t) => transfers.transfer(t));
    expect(result.deadlocks.length).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result.ledgerRows).toBe(WORKERS * TRANSFERS_PER_WORKER);
    expect(result.distinctTransfers).toBe(WORKERS * TRANSFERS_PER_WORKER);
    expect(result.total).toBe(ACCOUNTS * OPENING_BALANCE);
    expect(
      result.deadlocks.every((e) => e.type === 'attempt-failed' && e.operation === 'DecoratedTransfers.transfer'),
    ).toBe(true);
  });

  it('through ResilienceService.transaction: the same', async () => {
    const result = await storm(app, (t) =>
      app.resilience.transaction((manager) => moveMoney(manager, t), { operation: 'transfer', retry: STORM_RETRY }),
    );
    expect(result.deadlocks.length).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result.ledgerRows).toBe(WORKERS * TRANSFERS_PER_WORKER);
    expect(result.distinctTransfers).toBe(WORKERS * TRANSFERS_PER_WORKER);
    expect(result.total).toBe(ACCOUNTS * OPENING_BALANCE);
  });

  it('without retries the same storm loses transfers (the test can tell)', async () => {
    const result = await storm(app, (t) => app.dataSource.transaction((manager) => moveMoney(manager, t)));
    expect(result.failures.length).toBeGreaterThan(0);
    expect(result.ledgerRows).toBe(WORKERS * TRANSFERS_PER_WORKER - result.failures.length);
    expect(result.total).toBe(ACCOUNTS * OPENING_BALANCE);
  });
});
