import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatabaseResilienceModule } from 'nestjs-database-resilience';
import {
  plannedTransfers,
  runStorm,
  STORM,
  type StormResult,
  type Transfer,
} from '../apps/cli/src/scenarios/transfer-workload';
import { ServerTarget } from '../apps/cli/src/support/server-target';
import { databaseEnv } from '../libs/shared/src/database-env';
import { median, type BenchTable } from './bench-table';
import { POLICY, STORM_COLUMNS, stormRow, Transfers } from './storm-goodput.bench';

const ROUNDS = 5;

async function stormApp(database: string, admission: boolean): Promise<INestApplicationContext> {
  const { host, port, username, password } = databaseEnv();
  @Module({
    imports: [
      TypeOrmModule.forRoot({ type: 'mysql', host, port, username, password, database, poolSize: 20 }),
      DatabaseResilienceModule.forRoot({ deadlockAdmission: { enabled: admission }, healthCheck: { enabled: false } }),
    ],
    providers: [Transfers],
  })
  class AdmissionStormModule {}
  return NestFactory.createApplicationContext(AdmissionStormModule, { logger: false });
}

/**
 * The deadlock storm through @Retryable with and without deadlock-aware admission, beside the hand-written loop,
 * same server, same planned transfers, the order rotated: goodput and the deadlocks each one met.
 */
export async function admissionStormBench(): Promise<BenchTable> {
  const target = await ServerTarget.createScratch(databaseEnv(), 'dr_bench_admission');
  const plain = await stormApp(target.database, false);
  const admitted = await stormApp(target.database, true);
  try {
    const deadlocks: Record<'hand' | 'plain' | 'admitted', number[]> = { hand: [], plain: [], admitted: [] };
    const results: Record<'hand' | 'plain' | 'admitted', StormResult[]> = { hand: [], plain: [], admitted: [] };
    const plainSource = plain.get<DataSource>(getDataSourceToken());
    const admittedSource = admitted.get<DataSource>(getDataSourceToken());
    /** The server's own count: what each way of retrying cost it. */
    const serverDeadlocks = async () =>
      Number((await plainSource.query("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'"))[0]?.Value ?? 0);
    const paths: Array<[keyof typeof results, (plan: Transfer[][]) => Promise<StormResult>]> = [
      ['hand', (plan) => runStorm(plainSource, STORM, (t) => plain.get(Transfers).viaHandWrittenLoop(t), plan)],
      ['plain', (plan) => runStorm(plainSource, STORM, (t) => plain.get(Transfers).viaRetryable(t), plan)],
      ['admitted', (plan) => runStorm(admittedSource, STORM, (t) => admitted.get(Transfers).viaRetryable(t), plan)],
    ];
    // One round each first, not counted: the pools' connections opened and each path's code compiled.
    for (const [, run] of paths) await run(plannedTransfers(STORM));
    for (let round = 0; round < ROUNDS; round++) {
      const plan = plannedTransfers(STORM);
      for (const [name, run] of [...paths.slice(round % 3), ...paths.slice(0, round % 3)]) {
        const before = await serverDeadlocks();
        results[name].push(await run(plan));
        deadlocks[name].push((await serverDeadlocks()) - before);
      }
    }
    const handRow = stormRow('hand-written full-jitter loop (baseline)', results.hand);
    const rows = [
      handRow,
      stormRow('@Retryable, deadlockAdmission off', results.plain, Number(handRow[1])),
      stormRow('@Retryable, deadlockAdmission on', results.admitted, Number(handRow[1])),
    ].map((row, i) => [...row, String(median([deadlocks.hand, deadlocks.plain, deadlocks.admitted][i]))]);
    return {
      title:
        'Deadlock-aware admission in the deadlock storm (target: at least 1.2× the hand-written loop, fewer deadlocks)',
      columns: [...STORM_COLUMNS, "deadlocks a round (median, the server's count)"],
      rows,
      notes: [
        `${STORM.workers} workers × ${STORM.transfersPerWorker} transfers over ${STORM.accounts} accounts, rows locked in random order, ` +
          `pool of 20 each, on the local server; one round through each not counted (the pools opened, the code compiled), then ${ROUNDS} rounds, each running the same planned transfers through all three, ` +
          `the order rotated. The same full-jitter policy (${POLICY.maxAttempts} attempts, ${POLICY.baseDelayMs}–${POLICY.maxDelayMs} ms); ` +
          `deadlockAdmission with its defaults (minLimit 2, quietMs 10 000).`,
      ],
    };
  } finally {
    await plain.close();
    await admitted.close();
    await target.dropScratch();
  }
}
