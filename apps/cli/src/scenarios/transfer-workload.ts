import type { DataSource, EntityManager } from 'typeorm';
import { scenarioSqlFor } from '../support/scenario-sql';

/**
 * The deadlock-prone workload shared by the storm test, the storm benchmark and the CLI's deadlock scenario:
 * money moved between a few accounts, each transfer locking its two rows in random order, a ledger row each.
 */
export interface Transfer {
  id: number;
  from: number;
  to: number;
  amount: number;
  /** Which row is locked first: random, so that transfers deadlock. */
  fromFirst: boolean;
}

export interface WorkloadShape {
  workers: number;
  transfersPerWorker: number;
  accounts: number;
  openingBalance: number;
}

export const STORM: WorkloadShape = { workers: 16, transfersPerWorker: 100, accounts: 8, openingBalance: 1000 };

/** The same statements on MySQL and PostgreSQL: placeholders as the engine takes them, no table engine there. */
function dialect(dataSource: DataSource): { sql: (text: string) => string; engine: string } {
  const postgres = dataSource.options.type === 'postgres';
  return { sql: scenarioSqlFor(postgres ? 'postgres' : 'mysql').params, engine: postgres ? '' : ' ENGINE=InnoDB' };
}

export async function createTransferTables(dataSource: DataSource, shape: WorkloadShape): Promise<void> {
  const { engine } = dialect(dataSource);
  await dataSource.query('DROP TABLE IF EXISTS ledger, account');
  await dataSource.query(`CREATE TABLE account (id INT PRIMARY KEY, balance BIGINT NOT NULL)${engine}`);
  await dataSource.query(
    `CREATE TABLE ledger (transfer_id INT PRIMARY KEY, from_id INT NOT NULL, to_id INT NOT NULL, amount INT NOT NULL)${engine}`,
  );
  const rows = Array.from({ length: shape.accounts }, (_, i) => `(${i + 1}, ${shape.openingBalance})`).join(', ');
  await dataSource.query(`INSERT INTO account VALUES ${rows}`);
}

/** One list of transfers per worker, ids unique across all. */
export function plannedTransfers(shape: WorkloadShape): Transfer[][] {
  let id = 0;
  return Array.from({ length: shape.workers }, () =>
    Array.from({ length: shape.transfersPerWorker }, () => {
      const from = 1 + Math.floor(Math.random() * shape.accounts);
      const to = 1 + ((from + Math.floor(Math.random() * (shape.accounts - 1))) % shape.accounts);
      return { id: ++id, from, to, amount: 1 + Math.floor(Math.random() * 10), fromFirst: Math.random() < 0.5 };
    }),
  );
}

/** One transfer inside a transaction: both rows locked in the planned order (so transfers deadlock), a ledger row. */
export async function moveMoney(manager: EntityManager, t: Transfer): Promise<void> {
  const [first, second] = t.fromFirst ? [t.from, t.to] : [t.to, t.from];
  const { sql } = dialect(manager.connection);
  await manager.query(sql('SELECT balance FROM account WHERE id = ? FOR UPDATE'), [first]);
  await manager.query(sql('SELECT balance FROM account WHERE id = ? FOR UPDATE'), [second]);
  await manager.query(sql('UPDATE account SET balance = balance - ? WHERE id = ?'), [t.amount, t.from]);
  await manager.query(sql('UPDATE account SET balance = balance + ? WHERE id = ?'), [t.amount, t.to]);
  await manager.query(sql('INSERT INTO ledger (transfer_id, from_id, to_id, amount) VALUES (?, ?, ?, ?)'), [
    t.id,
    t.from,
    t.to,
    t.amount,
  ]);
}

export interface StormResult {
  failures: unknown[];
  /** Transfers the caller was told succeeded that are not in the ledger. */
  lost: number;
  /** Ledger rows beyond one per transfer told it succeeded: repeated, or of a transfer told it failed. */
  doubled: number;
  ledgerRows: number;
  distinctTransfers: number;
  balanceSum: number;
  expectedSum: number;
  seconds: number;
}

/** Runs every worker's transfers concurrently (each worker one after another), then reads the invariants. */
export async function runStorm(
  dataSource: DataSource,
  shape: WorkloadShape,
  transfer: (t: Transfer) => Promise<void>,
  plan: Transfer[][] = plannedTransfers(shape),
): Promise<StormResult> {
  await createTransferTables(dataSource, shape);
  const failures: unknown[] = [];
  const succeeded = new Set<number>();
  const started = process.hrtime.bigint();
  await Promise.all(
    plan.map(async (transfers) => {
      for (const t of transfers) {
        await transfer(t).then(
          () => succeeded.add(t.id),
          (error: unknown) => failures.push(error),
        );
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ledger = (await dataSource.query('SELECT transfer_id FROM ledger')) as Array<{ transfer_id: number }>;
  const inLedger = new Set(ledger.map((row) => Number(row.transfer_id)));
  const [{ n, distinct_ids }] = await dataSource.query(
    'SELECT COUNT(*) AS n, COUNT(DISTINCT transfer_id) AS distinct_ids FROM ledger',
  );
  const [{ total }] = await dataSource.query('SELECT SUM(balance) AS total FROM account');
  return {
    failures,
    lost: [...succeeded].filter((id) => !inLedger.has(id)).length,
    doubled: ledger.length - inLedger.size + [...inLedger].filter((id) => !succeeded.has(id)).length,
    ledgerRows: Number(n),
    distinctTransfers: Number(distinct_ids),
    balanceSum: Number(total),
    expectedSum: shape.accounts * shape.openingBalance,
    seconds,
  };
}
