import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource, TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatabaseResilienceModule, Retryable } from 'nestjs-database-resilience';
import {
  moveMoney,
  plannedTransfers,
  runStorm,
  STORM,
  type StormResult,
  type Transfer,
} from '../apps/cli/src/scenarios/transfer-workload';
import { ServerTarget } from '../apps/cli/src/support/server-target';
import { databaseEnv } from '../libs/shared/src/database-env';
import { median, type BenchTable } from './bench-table';

/** The retry policy of the storm benchmarks: @Retryable's and the hand-written loop's. */
export const POLICY = { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 100, budgetMs: 60_000 };
const ROUNDS = 5;

/** The storm's transfers through @Retryable and through a hand-written loop (the storm benchmarks' baseline). */
@Injectable()
export class Transfers {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Retryable(POLICY)
  viaRetryable(t: Transfer): Promise<void> {
    return this.dataSource.transaction((manager) => moveMoney(manager, t));
  }

  /** The same work and the same full-jitter policy, retried by hand on deadlocks and lock wait timeouts. */
  viaHandWrittenLoop(t: Transfer): Promise<void> {
    return transferByHand(this.dataSource, t, POLICY);
  }
}

/** A transfer retried by a hand-written full-jitter loop on deadlocks and lock wait timeouts (the baseline). */
export async function transferByHand(
  dataSource: DataSource,
  t: Transfer,
  policy: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await dataSource.transaction((manager) => moveMoney(manager, t));
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      if ((errno !== 1213 && errno !== 1205) || attempt >= policy.maxAttempts) throw error;
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * cap)));
    }
  }
}

/**
 * One row of a storm table: the median goodput (ledger rows a second), each round's, the ratio to the baseline,
 * the transfers whose caller got an error after every attempt, and over every round the transfers lost (told
 * applied, not in the ledger) or doubled (in it twice, or there though told failed), plus a balance sum that moved.
 */
export function stormRow(name: string, runs: StormResult[], baseline?: number): string[] {
  const goodput = (r: StormResult) => r.ledgerRows / r.seconds;
  const perSecond = median(runs.map(goodput));
  const sum = (pick: (r: StormResult) => number) => runs.reduce((total, r) => total + pick(r), 0);
  return [
    name,
    perSecond.toFixed(0),
    runs.map((r) => goodput(r).toFixed(0)).join(' / '),
    baseline ? (perSecond / baseline).toFixed(2) : '—',
    String(sum((r) => r.failures.length)),
    String(sum((r) => r.lost + r.doubled + (r.balanceSum !== r.expectedSum ? 1 : 0))),
  ];
}

/** The columns of a storm table (`stormRow`'s). */
export const STORM_COLUMNS = [
  'retry',
  'transfers/s (median)',
  'each round',
  '× baseline',
  'failed after every attempt (caller told)',
  'lost or doubled',
];

/** Transfers per second in the deadlock storm, through @Retryable and through a hand-written loop, same server. */
export async function stormGoodputBench(): Promise<BenchTable> {
  const target = await ServerTarget.createScratch(databaseEnv(), 'dr_bench');
  const { host, port, username, password } = target.env;

  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'mysql', host, port, username, password, database: target.database, poolSize: 20 }),
      DatabaseResilienceModule.forRoot(),
    ],
    providers: [Transfers],
  })
  class StormModule {}

  const app = await NestFactory.createApplicationContext(StormModule, { logger: false });
  try {
    const dataSource = app.get<DataSource>(getDataSourceToken());
    const transfers = app.get(Transfers);
    const results: Record<'hand' | 'ours', StormResult[]> = { hand: [], ours: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const plan = plannedTransfers(STORM); // the same transfers, in the same lock orders, for both
      const hand = () => runStorm(dataSource, STORM, (t) => transfers.viaHandWrittenLoop(t), plan);
      const ours = () => runStorm(dataSource, STORM, (t) => transfers.viaRetryable(t), plan);
      if (round % 2 === 0) {
        results.hand.push(await hand());
        results.ours.push(await ours());
      } else {
        results.ours.push(await ours());
        results.hand.push(await hand());
      }
    }
    const handRow = stormRow('hand-written full-jitter loop (baseline)', results.hand);
    const oursRow = stormRow('@Retryable', results.ours, Number(handRow[1]));
    return {
      title:
        'Deadlock storm goodput (target: @Retryable at least 0.95 of the hand-written loop, nothing lost or doubled)',
      columns: STORM_COLUMNS,
      rows: [handRow, oursRow],
      notes: [
        `${STORM.workers} workers × ${STORM.transfersPerWorker} transfers over ${STORM.accounts} accounts, rows locked in random order, ` +
          `pool of 20, on the local server; ${ROUNDS} rounds, each running the same planned transfers through both, ` +
          `which goes first alternating; the module with forRoot()'s defaults (deadlock-aware admission on). Both retry deadlocks and lock wait timeouts ` +
          `with the same full-jitter policy (${POLICY.maxAttempts} attempts, ${POLICY.baseDelayMs}–${POLICY.maxDelayMs} ms).`,
      ],
    };
  } finally {
    await app.close();
    await target.dropScratch();
  }
}
