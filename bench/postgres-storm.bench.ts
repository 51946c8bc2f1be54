import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectDataSource, TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { DatabaseResilienceModule, ResilienceEvents, ResilienceService, Retryable } from 'nestjs-database-resilience';
import {
  moveMoney,
  plannedTransfers,
  runStorm,
  STORM,
  type StormResult,
  type Transfer,
} from '../apps/cli/src/scenarios/transfer-workload';
import { median, type BenchTable } from './bench-table';
import { STORM_COLUMNS, stormRow } from './storm-goodput.bench';

const PG = { host: '127.0.0.1', port: 5432, username: 'postgres', database: 'test' };
const POLICY = { maxAttempts: 12, baseDelayMs: 2, maxDelayMs: 100, budgetMs: 60_000 };
const ROUNDS = 3;
/** Deadlock victims met so far, by every variant (the server's own counter is flushed too lazily to read per run). */
let victims = 0;
type Variant = 'hand' | 'retryable' | 'transaction' | 'admitted';

@Injectable()
class Transfers {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly resilience: ResilienceService,
  ) {}

  @Retryable(POLICY)
  viaRetryable(t: Transfer): Promise<void> {
    return this.dataSource.transaction((manager) => moveMoney(manager, t));
  }

  viaTransaction(t: Transfer): Promise<void> {
    return this.resilience.transaction((manager) => moveMoney(manager, t), { retry: POLICY });
  }
}

/**
 * The same work and the same full-jitter policy, retried by hand on deadlocks and serialization failures, on a
 * DataSource of its own that the module does not guard: the app without the module.
 */
async function viaHandWrittenLoop(plain: DataSource, t: Transfer): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await plain.transaction((manager) => moveMoney(manager, t));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '40P01') victims++;
      if ((code !== '40P01' && code !== '40001') || attempt >= POLICY.maxAttempts) throw error;
      const cap = Math.min(POLICY.maxDelayMs, POLICY.baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * cap)));
    }
  }
}

/**
 * The deadlock storm on PostgreSQL (the local server, a schema of its own): transfers per second through
 * @Retryable (with and without deadlock-aware admission), through ResilienceService.transaction and through a hand-written loop, same run, order rotated.
 * PostgreSQL looks for a deadlock only after `deadlock_timeout` (1 s by default): the sessions lower it to 50 ms.
 */
export async function postgresStormBench(): Promise<BenchTable> {
  const schema = `dr_bench_pg_${process.pid}`;
  const admin = new Client({ ...PG, user: PG.username });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);

  const connection = {
    type: 'postgres' as const,
    ...PG,
    schema,
    poolSize: 20,
    extra: { options: `-c search_path=${schema} -c deadlock_timeout=50ms` },
  };
  const plain = await new DataSource(connection).initialize();

  const stormApp = (deadlockAdmission: boolean) => {
    @Module({
      imports: [
        TypeOrmModule.forRoot(connection),
        DatabaseResilienceModule.forRoot({ alerts: { log: false }, deadlockAdmission: { enabled: deadlockAdmission } }),
      ],
      providers: [Transfers],
    })
    class PostgresStormModule {}
    return NestFactory.createApplicationContext(PostgresStormModule, { logger: false });
  };
  const app = await stormApp(false);
  const admittedApp = await stormApp(true);
  for (const each of [app, admittedApp]) {
    each.get(ResilienceEvents).subscribe((e) => {
      if (e.type === 'attempt-failed' && e.error.category === 'deadlock') victims++;
    });
  }
  try {
    const dataSource = app.get<DataSource>(getDataSourceToken());
    const transfers = app.get(Transfers);
    const run: Record<Variant, (t: Transfer) => Promise<void>> = {
      hand: (t) => viaHandWrittenLoop(plain, t),
      retryable: (t) => transfers.viaRetryable(t),
      transaction: (t) => transfers.viaTransaction(t),
      admitted: (t) => admittedApp.get(Transfers).viaRetryable(t),
    };
    const order: Variant[] = ['hand', 'retryable', 'transaction', 'admitted'];
    const results: Record<Variant, StormResult[]> = { hand: [], retryable: [], transaction: [], admitted: [] };
    const deadlocks: Record<Variant, number[]> = { hand: [], retryable: [], transaction: [], admitted: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const plan = plannedTransfers(STORM); // the same transfers, in the same lock orders, for each
      for (let i = 0; i < order.length; i++) {
        const variant = order[(round + i) % order.length]; // which goes first rotates
        const before = victims;
        results[variant].push(await runStorm(dataSource, STORM, run[variant], plan));
        deadlocks[variant].push(victims - before);
      }
    }
    const handRow = stormRow('hand-written full-jitter loop, plain TypeORM (baseline)', results.hand);
    const baseline = Number(handRow[1]);
    return {
      title:
        'PostgreSQL deadlock storm goodput (target: at least the hand-written loop, 1.2× with deadlock-aware admission, nothing lost or doubled)',
      columns: [...STORM_COLUMNS, 'deadlocks a round (median, victims)'],
      rows: [
        handRow,
        stormRow('@Retryable (TypeORM transaction inside)', results.retryable, baseline),
        stormRow('ResilienceService.transaction', results.transaction, baseline),
        stormRow('@Retryable, deadlockAdmission on', results.admitted, baseline),
      ].map((row, i) => [...row, String(median(deadlocks[order[i]]))]),
      notes: [
        `Failed after every attempt: ${failureCodes(Object.values(results).flat())}.`,
        `PostgreSQL ${(await admin.query('SHOW server_version')).rows[0].server_version}, the local server, ` +
          `deadlock_timeout 50 ms for the sessions; ${STORM.workers} workers × ${STORM.transfersPerWorker} transfers over ` +
          `${STORM.accounts} accounts, rows locked in random order, pool of 20, READ COMMITTED; ${ROUNDS} rounds, each ` +
          'running the same planned transfers through all four, which goes first rotating; the hand-written loop on a ' +
          'DataSource the module does not guard (the app without it). All retry deadlocks ' +
          `(40P01) and serialization failures (40001) with the same full-jitter policy (${POLICY.maxAttempts} attempts, ` +
          `${POLICY.baseDelayMs}–${POLICY.maxDelayMs} ms); deadlockAdmission with its defaults (minLimit 2, quietMs 10 000).`,
      ],
    };
  } finally {
    await app.close();
    await admittedApp.close();
    await plain.destroy();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

/** The failures of the runs by code (`40P01 ×3`), or `none`. */
function failureCodes(runs: StormResult[]): string {
  const counts = new Map<string, number>();
  for (const failure of runs.flatMap((r) => r.failures)) {
    const code = String((failure as { code?: unknown }).code ?? (failure as Error).name);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return counts.size === 0 ? 'none' : [...counts].map(([code, n]) => `${code} ×${n}`).join(', ');
}
