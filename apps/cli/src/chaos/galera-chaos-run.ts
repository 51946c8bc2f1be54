import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ResilienceEvents, type ResilienceEventOf } from 'nestjs-database-resilience';
import { AppModule } from '../../../api/src/app.module';
import { configureApp } from '../../../api/src/configure-app';
import { GaleraCluster } from '../support/galera-cluster';
import { HaproxyEndpoint } from '../support/haproxy-endpoint';
import { evaluateChaos, mb, type ChaosCheck } from './chaos-checks';
import { startLoad, type LoadRecord } from './chaos-load';
import { heapAfterGc, setEnv, sleep } from './chaos-run';

/** Well above Galera's own stall when a node dies (about 1 s with the cluster's FAST_FAILURE_DETECTION). */
const REQUEST_DEADLINE_MS = 8000;
/** How soon after a node is killed writes must succeed again. */
const WRITES_BACK_MS = 2000;
const ACCOUNTS = 8;
const OPENING_BALANCE = 1_000_000;

/**
 * apps/api on a three-node Galera cluster of the run's own, reached through Debian's HAProxy (round robin, its
 * own checks), under load from a worker thread, while faults come on a schedule: a certification storm (transfers
 * between two accounts spread over the nodes), a node desynced, a node killed and restarted; about two minutes.
 * Then it checks the data and the service's behaviour; the breaker must never open (two nodes always serve).
 */
export async function runGaleraChaos(print: (line: string) => void): Promise<ChaosCheck[]> {
  const startedAt = Date.now();
  const phase = (line: string) => print(`${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s  ${line}`);

  phase('starting a three-node Galera cluster of its own (galera-4) and HAProxy in front of it');
  const cluster = await GaleraCluster.start();
  const [node1, node2, node3] = cluster.nodes;
  const endpoint = await HaproxyEndpoint.balance(cluster.nodes.map((node) => node.port));
  const savedEnv = setEnv({
    DATABASE_URL: '',
    DB_ENGINE: 'mysql',
    DB_HOST: '127.0.0.1',
    DB_PORT: String(endpoint.port),
    DB_USER: 'root',
    DB_PASSWORD: '',
    DB_NAME: 'test',
    DB_SYNCHRONIZE: 'true',
    RESILIENCE_REQUEST_DEADLINE_MS: String(REQUEST_DEADLINE_MS),
  });
  let app: INestApplication | undefined;
  try {
    app = configureApp(await NestFactory.create(AppModule, { logger: ['error'] }));
    await app.listen(0, '127.0.0.1');
    const baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const transitions: ResilienceEventOf<'breaker-state'>[] = [];
    let conflicts = 0;
    app.get(ResilienceEvents).subscribe((event) => {
      if (event.type === 'breaker-state') transitions.push(event);
      if (event.type === 'attempt-failed' && event.error.name === 'CERTIFICATION_CONFLICT') conflicts++;
    });

    const accounts: number[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const response = await fetch(`${baseUrl}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner: `chaos-${i}`, balance: OPENING_BALANCE }),
      });
      accounts.push(((await response.json()) as { id: number }).id);
    }
    phase(`apps/api up at ${baseUrl} through HAProxy; ${ACCOUNTS} accounts; load: 16 callers, 70 % transfers`);
    const loads = [startLoad({ baseUrl, name: 'steady', workers: 16, accounts, transferShare: 0.7 })];
    let heapAfterWarmUp = 0;
    let killedAt = Infinity;
    try {
      await sleep(15_000);
      heapAfterWarmUp = heapAfterGc();
      phase(`warm-up done; heap ${mb(heapAfterWarmUp)}`);

      phase('certification storm: 16 more callers move money between two accounts over every node, 10 s');
      const storm = startLoad({
        baseUrl,
        name: 'storm',
        workers: 16,
        accounts: accounts.slice(0, 2),
        transferShare: 1,
      });
      loads.push(storm);
      await sleep(10_000);
      await storm.stop();
      phase(`storm over: ${conflicts} certification conflicts at COMMIT retried so far`);

      phase('node 2 desynced (wsrep_desync) for 10 s');
      await node2.admin('SET GLOBAL wsrep_desync = ON');
      await sleep(10_000);
      await node2.admin('SET GLOBAL wsrep_desync = OFF');

      phase('node 3 killed (SIGKILL)');
      killedAt = Date.now();
      await cluster.killNode(node3);
      await sleep(15_000);
      phase('node 3 restarted; it rejoins by state transfer');
      await cluster.startNode(node3);
      await sleep(15_000);
    } finally {
      await Promise.all(loads.map((load) => load.stop()));
    }
    await sleep(2000); // in-flight retries and settlements end
    const heapAtEnd = heapAfterGc();
    const records: LoadRecord[] = (await Promise.all(loads.map((load) => load.collect()))).flat();
    phase(`load stopped: ${records.length} requests; ${conflicts} certification conflicts at COMMIT retried`);

    const check = await node1.connect();
    try {
      const [transferRows] = await check.query(
        'SELECT idempotencyKey AS k, COUNT(*) AS n FROM transfer WHERE idempotencyKey IS NOT NULL GROUP BY idempotencyKey',
      );
      const [[sumRow]] = (await check.query('SELECT SUM(balance) AS total FROM account')) as unknown as [
        Array<{ total: string }>,
      ];
      const applied = new Map((transferRows as Array<{ k: string; n: number }>).map((r) => [r.k, Number(r.n)]));
      const checks = evaluateChaos({
        deadlineMs: REQUEST_DEADLINE_MS,
        records,
        applied,
        balanceSum: Number(sumRow.total),
        expectedSum: ACCOUNTS * OPENING_BALANCE,
        transitions,
        recoveries: [],
        heapAfterWarmUp,
        heapAtEnd,
        breaker: 'closed',
        print,
      });
      return [...checks, writesBack(records, killedAt), conflictsSeen(conflicts)];
    } finally {
      await check.end();
    }
  } finally {
    await app?.close();
    await endpoint.stop();
    await cluster.destroy();
    setEnv(savedEnv);
  }
}

/** A transfer started after the kill is acknowledged within 2 s of it. */
function writesBack(records: LoadRecord[], killedAt: number): ChaosCheck {
  const firstSuccess = records
    .filter((r) => r.kind === 'transfer' && r.status === 201 && r.startedAt >= killedAt)
    .reduce((first, r) => Math.min(first, r.startedAt + r.ms), Infinity);
  const ms = firstSuccess - killedAt;
  return {
    name: `writes back within ${WRITES_BACK_MS} ms of the kill`,
    passed: ms <= WRITES_BACK_MS,
    detail: Number.isFinite(ms) ? `first transfer acknowledged ${Math.round(ms)} ms after the kill` : 'none',
  };
}

function conflictsSeen(conflicts: number): ChaosCheck {
  return {
    name: 'the storm met certification conflicts at COMMIT, and each was retried',
    passed: conflicts > 0,
    detail: `${conflicts} retried (none is an unknown outcome: the ledger checks above)`,
  };
}
