import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource, TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatabaseResilienceModule, ResilienceService, Retryable } from 'nestjs-database-resilience';
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
import type { BenchTable } from './bench-table';
import { STORM_COLUMNS, stormRow, transferByHand } from './storm-goodput.bench';

const ROUNDS = 6;
/** The loop a team writes by hand: full jitter from 5 ms, capped at 200 ms, deadlocks and lock waits. */
const LOOP = { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 200 };

/** The storm's transfers with nothing tuned: @Retryable() and transaction() with forRoot()'s defaults. */
@Injectable()
class DefaultTransfers {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resilience: ResilienceService,
  ) {}

  @Retryable()
  viaRetryable(t: Transfer): Promise<void> {
    return this.dataSource.transaction((manager) => moveMoney(manager, t));
  }

  viaTransaction(t: Transfer): Promise<void> {
    return this.resilience.transaction((manager) => moveMoney(manager, t), { operation: 'transfer' });
  }

  viaHandWrittenLoop(t: Transfer): Promise<void> {
    return transferByHand(this.dataSource, t, LOOP);
  }
}

/**
 * The deadlock storm with forRoot()'s defaults, as a team meets it untuned, against the hand-written loop, same
 * server, same planned transfers, the order rotated; the lowest ratio of any round beside the median.
 */
export async function defaultsStormBench(): Promise<BenchTable> {
  const target = await ServerTarget.createScratch(databaseEnv(), 'dr_bench_defaults');
  const { host, port, username, password } = target.env;
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'mysql', host, port, username, password, database: target.database, poolSize: 20 }),
      DatabaseResilienceModule.forRoot({ healthCheck: { enabled: false } }),
    ],
    providers: [DefaultTransfers],
  })
  class DefaultsStormModule {}
  const app = await NestFactory.createApplicationContext(DefaultsStormModule, { logger: false });
  try {
    const dataSource = app.get<DataSource>(getDataSourceToken());
    const transfers = app.get(DefaultTransfers);
    const results: Record<'hand' | 'retryable' | 'transaction', StormResult[]> = {
      hand: [],
      retryable: [],
      transaction: [],
    };
    const runs: Array<[keyof typeof results, (t: Transfer) => Promise<void>]> = [
      ['hand', (t) => transfers.viaHandWrittenLoop(t)],
      ['retryable', (t) => transfers.viaRetryable(t)],
      ['transaction', (t) => transfers.viaTransaction(t)],
    ];
    // One round each first, not counted: the pool's connections opened and each path's code compiled, as in an
    // app that has served traffic before its storm.
    for (const [, transfer] of runs) await runStorm(dataSource, STORM, transfer, plannedTransfers(STORM));
    for (let round = 0; round < ROUNDS; round++) {
      const plan = plannedTransfers(STORM);
      for (const [name, transfer] of [...runs.slice(round % 3), ...runs.slice(0, round % 3)]) {
        results[name].push(await runStorm(dataSource, STORM, transfer, plan));
      }
    }
    const goodput = (r: StormResult) => r.ledgerRows / r.seconds;
    const lowestRound = (runs: StormResult[]) =>
      Math.min(...runs.map((r, i) => goodput(r) / goodput(results.hand[i]))).toFixed(2);
    const handRow = stormRow(
      `hand-written full-jitter loop, ${LOOP.baseDelayMs}–${LOOP.maxDelayMs} ms (baseline)`,
      results.hand,
    );
    return {
      title:
        "The deadlock storm with forRoot()'s defaults (target: at least 1.2× the hand-written loop in every round, nothing lost or doubled)",
      columns: [...STORM_COLUMNS, '× baseline, lowest round'],
      rows: [
        [...handRow, '—'],
        [...stormRow('@Retryable()', results.retryable, Number(handRow[1])), lowestRound(results.retryable)],
        [
          ...stormRow('ResilienceService.transaction(fn, { operation })', results.transaction, Number(handRow[1])),
          lowestRound(results.transaction),
        ],
      ],
      notes: [
        `${STORM.workers} workers × ${STORM.transfersPerWorker} transfers over ${STORM.accounts} accounts, rows locked in random order, ` +
          `pool of 20, on the local server; one round through each not counted (the pool opened, the code compiled), then ${ROUNDS} rounds, each running the same planned transfers through all three, the ` +
          `order rotated. Nothing tuned: the module's default retry policy and deadlock-aware admission; the loop retries ` +
          `deadlocks and lock wait timeouts up to ${LOOP.maxAttempts} attempts with full jitter.`,
      ],
    };
  } finally {
    await app.close();
    await target.dropScratch();
  }
}
