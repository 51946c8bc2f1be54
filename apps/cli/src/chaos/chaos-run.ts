import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ResilienceEvents, type ResilienceEventOf } from 'nestjs-database-resilience';
import { AppModule } from '../../../api/src/app.module';
import { configureApp } from '../../../api/src/configure-app';
import { FaultProxy } from '../support/fault-proxy';
import type { DatabaseEngineName } from '../../../../libs/shared/src/database-env';
import { ServerTarget } from '../support/server-target';
import { envOf, THROWAWAY } from '../support/throwaway-server';
import { evaluateChaos, mb, type ChaosCheck } from './chaos-checks';
import { startLoad, type LoadRecord } from './chaos-load';

const REQUEST_DEADLINE_MS = 5000;
const ACCOUNTS = 8;
const OPENING_BALANCE = 1_000_000;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * apps/api on a MariaDB or PostgreSQL server of the run's own, behind a fault proxy, under load from a worker
 * thread, while faults come on a schedule: a deadlock burst, kills of random sessions, a lock held past the request
 * deadline, a 10 s outage, a full restart, a second burst; about two and a half minutes in all. Then it checks the
 * data and the service's behaviour.
 */
export async function runChaos(
  print: (line: string) => void,
  engine: DatabaseEngineName = 'mysql',
): Promise<ChaosCheck[]> {
  const startedAt = Date.now();
  const at = () => `${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s`;
  const phase = (line: string) => print(`${at()}  ${line}`);
  const { product, user } = THROWAWAY[engine];

  phase(`starting a ${product} server of its own and a fault proxy`);
  const server = await THROWAWAY[engine].create();
  const target = new ServerTarget(envOf(engine, server), 'test');
  const { sql } = target;
  const proxy = await new FaultProxy('127.0.0.1', server.port, engine).start();
  const savedEnv = setEnv({
    DATABASE_URL: '',
    DB_ENGINE: engine,
    DB_HOST: '127.0.0.1',
    DB_PORT: String(proxy.port),
    DB_USER: user,
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
    app.get(ResilienceEvents).subscribe((event) => event.type === 'breaker-state' && transitions.push(event));

    const accounts: number[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const response = await fetch(`${baseUrl}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner: `chaos-${i}`, balance: OPENING_BALANCE }),
      });
      accounts.push(((await response.json()) as { id: number }).id);
    }
    phase(`apps/api up at ${baseUrl}; ${ACCOUNTS} accounts; load: 16 callers, 70 % transfers`);
    const load = startLoad({ baseUrl, name: 'steady', workers: 16, accounts, transferShare: 0.7 });
    const admin = await target.connect();
    const recoveries: Array<{ fault: string; upAt: number }> = [];
    let heapAfterWarmUp = 0;
    const loads = [load];
    /** 16 more callers moving money between two accounts for 10 s: deadlocks galore. */
    const burst = async (name: string, between: number[]) => {
      const extra = startLoad({ baseUrl, name, workers: 16, accounts: between, transferShare: 1 });
      loads.push(extra);
      await sleep(10_000);
      await extra.stop();
    };
    try {
      await sleep(20_000);
      heapAfterWarmUp = heapAfterGc();
      phase(`warm-up done; heap ${mb(heapAfterWarmUp)}`);

      phase('deadlock burst: 16 more callers move money between two accounts, 10 s');
      await burst('burst', accounts.slice(0, 2));

      phase('kill of random sessions: two every 2 s, 12 s');
      for (let i = 0; i < 6; i++) {
        const rows = await admin.query<{ id: number }>(sql.otherSessions('test'));
        const ids = rows.map((r) => Number(r.id)).sort(() => Math.random() - 0.5);
        for (const id of ids.slice(0, 2)) await admin.query(sql.kill(id)).catch(() => undefined);
        await sleep(2000);
      }

      phase(`lock wait: one account locked for ${(REQUEST_DEADLINE_MS * 1.4) / 1000} s, past the request deadline`);
      await admin.query('BEGIN');
      await admin.query(sql.params('SELECT id FROM account WHERE id = ? FOR UPDATE'), [accounts[2]]);
      await sleep(REQUEST_DEADLINE_MS * 1.4);
      await admin.query('ROLLBACK');
      await sleep(2000);

      phase('outage: the proxy refuses and drops every connection for 10 s');
      proxy.refuse(true);
      proxy.closeOpenConnections();
      await sleep(10_000);
      proxy.refuse(false);
      recoveries.push({ fault: '10 s outage', upAt: Date.now() });
      phase('outage over: the server accepts connections again');
      await sleep(18_000);

      phase('full restart of the server (SIGTERM, start)');
      await admin.end().catch(() => undefined);
      await server.stop();
      await sleep(3000);
      await server.start();
      recoveries.push({ fault: 'server restart', upAt: Date.now() });
      phase('restart over: the server accepts connections again');
      await sleep(15_000);

      phase('second deadlock burst, 10 s, then steady load to the end');
      await burst('burst2', accounts.slice(2, 4));
      await sleep(15_000);
    } finally {
      await Promise.all(loads.map((l) => l.stop()));
    }
    await sleep(2000); // in-flight retries and settlements end
    const heapAtEnd = heapAfterGc(); // before the records come over from the load threads
    const records: LoadRecord[] = (await Promise.all(loads.map((l) => l.collect()))).flat();
    phase(`load stopped: ${records.length} requests`);

    const check = await target.connect();
    try {
      const key = sql.quote('idempotencyKey'); // TypeORM's column name: quoted on PostgreSQL, or it folds to lower case
      const transferRows = await check.query<{ k: string; n: number }>(
        `SELECT ${key} AS k, COUNT(*) AS n FROM transfer WHERE ${key} IS NOT NULL GROUP BY ${key}`,
      );
      const [sumRow] = await check.query<{ total: string }>('SELECT SUM(balance) AS total FROM account');
      const applied = new Map(transferRows.map((r) => [r.k, Number(r.n)]));
      return evaluateChaos({
        deadlineMs: REQUEST_DEADLINE_MS,
        records,
        applied,
        balanceSum: Number(sumRow.total),
        expectedSum: ACCOUNTS * OPENING_BALANCE,
        transitions,
        recoveries,
        heapAfterWarmUp,
        heapAtEnd,
        print,
      });
    } finally {
      await check.end();
    }
  } finally {
    await app?.close();
    await proxy.stop();
    await server.destroy();
    setEnv(savedEnv);
  }
}

/** The heap after a full GC (0 without --expose-gc); with CHAOS_HEAP_SNAPSHOTS=<dir>, a snapshot there too. */
export function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const dir = process.env.CHAOS_HEAP_SNAPSHOTS;
  if (dir) writeHeapSnapshot(join(dir, `chaos-${Date.now()}.heapsnapshot`));
  return (globalThis as { gc?: () => void }).gc ? process.memoryUsage().heapUsed : 0;
}

export function setEnv(values: Record<string, string | undefined>): Record<string, string | undefined> {
  const previous: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    previous[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return previous;
}
