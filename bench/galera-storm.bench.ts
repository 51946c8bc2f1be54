import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CommitOutcomeUnknownError, DatabaseResilienceModule, ResilienceEvents } from 'nestjs-database-resilience';
import { plannedTransfers, runStorm, STORM, type StormResult } from '../apps/cli/src/scenarios/transfer-workload';
import { GaleraCluster, type GaleraNode } from '../apps/cli/src/support/galera-cluster';
import { median, type BenchTable } from './bench-table';
import { POLICY, STORM_COLUMNS, stormRow, Transfers } from './storm-goodput.bench';

const ROUNDS = 3;

/** The app as one instance of a fleet runs it, on one node of the cluster. */
async function appOn(node: GaleraNode): Promise<INestApplicationContext> {
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'mysql',
        host: '127.0.0.1',
        port: node.port,
        username: 'root',
        database: 'test',
        poolSize: 20,
      }),
      DatabaseResilienceModule.forRoot({ healthCheck: { enabled: false }, alerts: { log: false } }),
    ],
    providers: [Transfers],
  })
  class GaleraStormModule {}
  return NestFactory.createApplicationContext(GaleraStormModule, { logger: false });
}

/** Local transactions another node's write rolled back, on both writing nodes (Galera's own counters). */
async function clusterConflicts(nodes: GaleraNode[]): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    const connection = await node.connect();
    const [rows] = await connection.query(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_cert_failures', 'wsrep_local_bf_aborts')",
    );
    await connection.end();
    for (const row of rows as Array<{ Value: string }>) total += Number(row.Value);
  }
  return total;
}

/**
 * The deadlock storm's transfers across two Galera nodes (two app instances, one on each, the transfers split
 * between them): @Retryable with forRoot()'s defaults beside the hand-written loop, the same planned transfers,
 * the order alternated. The ledger and balances are read on the third node, which waits for causality.
 */
export async function galeraStormBench(): Promise<BenchTable> {
  const cluster = await GaleraCluster.start();
  const [node1, node2, node3] = cluster.nodes;
  const apps = [await appOn(node1), await appOn(node2)];
  await node3.admin('SET GLOBAL wsrep_sync_wait = 1'); // its reads see every commit of the others
  const reader = await new DataSource({
    type: 'mysql',
    host: '127.0.0.1',
    port: node3.port,
    username: 'root',
    database: 'test',
  }).initialize();
  try {
    const conflictsSeen = { count: 0 };
    for (const app of apps) {
      app.get(ResilienceEvents).subscribe((event) => {
        if (event.type === 'attempt-failed' && event.error.name === 'CERTIFICATION_CONFLICT') conflictsSeen.count++;
      });
    }
    const transfers = apps.map((app) => app.get(Transfers));
    const results: Record<'hand' | 'ours', StormResult[]> = { hand: [], ours: [] };
    const conflicts: Record<'hand' | 'ours', number[]> = { hand: [], ours: [] };
    let unknownOutcomes = 0;
    let retriedAtCommit = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const plan = plannedTransfers(STORM);
      const runs: Array<['hand' | 'ours', () => Promise<StormResult>]> = [
        ['hand', () => runStorm(reader, STORM, (t) => transfers[t.id % 2].viaHandWrittenLoop(t), plan)],
        ['ours', () => runStorm(reader, STORM, (t) => transfers[t.id % 2].viaRetryable(t), plan)],
      ];
      for (const [name, run] of round % 2 === 0 ? runs : [...runs].reverse()) {
        const before = await clusterConflicts([node1, node2]);
        const seenBefore = conflictsSeen.count;
        const result = await run();
        results[name].push(result);
        conflicts[name].push((await clusterConflicts([node1, node2])) - before);
        if (name === 'ours') {
          retriedAtCommit += conflictsSeen.count - seenBefore;
          unknownOutcomes += result.failures.filter((error) => error instanceof CommitOutcomeUnknownError).length;
        }
      }
    }
    const handRow = stormRow('hand-written full-jitter loop (baseline)', results.hand);
    const oursRow = stormRow('@Retryable', results.ours, Number(handRow[1]));
    return {
      title:
        'Galera certification storm across two nodes (target: nothing lost or doubled, every conflict at COMMIT retried)',
      columns: [...STORM_COLUMNS, 'conflicts a round (median, both nodes: cert failures + brute-force aborts)'],
      rows: [
        [...handRow, String(median(conflicts.hand))],
        [...oursRow, String(median(conflicts.ours))],
      ],
      notes: [
        `A three-node Galera cluster (MariaDB 10.11, Debian's galera-4) of the benchmark's own; two app instances, ` +
          `one on node 1 and one on node 2, each with a pool of 20; ${STORM.workers} workers × ${STORM.transfersPerWorker} transfers over ` +
          `${STORM.accounts} accounts, odd transfers through node 1, even through node 2; ledger and balances read on node 3 ` +
          `(wsrep_sync_wait = 1). ${ROUNDS} rounds, the same planned transfers for both, which goes first alternating. Both retry ` +
          `1213 and 1205 with the same full-jitter policy (${POLICY.maxAttempts} attempts, ${POLICY.baseDelayMs}–${POLICY.maxDelayMs} ms); the module ` +
          `with forRoot()'s defaults. Through @Retryable: ${retriedAtCommit} certification conflicts at COMMIT retried, ` +
          `${unknownOutcomes} COMMIT_OUTCOME_UNKNOWN.`,
      ],
    };
  } finally {
    await reader.destroy();
    for (const app of apps) await app.close();
    await cluster.destroy();
  }
}
