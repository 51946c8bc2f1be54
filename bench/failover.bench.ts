import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ResilienceEvents, ResilienceService, type ResilienceEvent } from 'nestjs-database-resilience';
import { FaultProxy } from '../apps/cli/src/support/fault-proxy';
import { resilientContext } from '../apps/cli/src/support/resilient-context';
import { waitUntil } from '../apps/cli/src/support/server-target';
import { WRITER_PAIRS, writeUntil } from '../apps/cli/src/support/writer-pair';
import type { BenchTable } from './bench-table';

const CALLERS = 20;
const BEFORE_MS = 1_500;
const AFTER_MS = 5_000;
const ROUNDS = 3;

/** What one side saw in one round, times in ms from the moment the endpoint named the new writer. */
interface Round {
  failedAfterSwitch: number;
  lastFailureMs: number | null;
  firstWriteMs: number | null;
  writesAfterSwitch: number;
  lostOrDoubled: number;
  breakerOpened: boolean;
}

const writers = (write: (id: number) => Promise<unknown>, firstId: number, stop: () => boolean) =>
  writeUntil(write, firstId, stop, CALLERS);

/** One failover, the module and plain TypeORM side by side, each through an endpoint of its own. */
async function round(makePair: (typeof WRITER_PAIRS)[number][1]): Promise<{ module: Round; plain: Round }> {
  const pair = await makePair();
  const endpoint = await new FaultProxy('127.0.0.1', pair.oldPort, pair.protocol).start();
  const plainEndpoint = await new FaultProxy('127.0.0.1', pair.oldPort, pair.protocol).start();
  const context = await resilientContext(pair.env(endpoint.port), 'test', {
    healthCheck: { enabled: false },
    alerts: { log: false },
  });
  const plain = await new DataSource(pair.plain(plainEndpoint.port)).initialize();
  const events: ResilienceEvent[] = [];
  context.app.get(ResilienceEvents).subscribe((event) => events.push(event));
  const resilience = context.app.get(ResilienceService);
  try {
    let switchedAt = Infinity;
    const stop = () => Date.now() > switchedAt + AFTER_MS;
    const moduleRun = writers(
      (id) =>
        id % 2 === 0
          ? resilience.execute(() => context.dataSource.query(pair.insert, [id, 'execute']), { retry: true })
          : resilience.transaction((manager) => manager.query(pair.insert, [id, 'transaction'])),
      1,
      stop,
    );
    const plainRun = writers((id) => plain.query(pair.insert, [id, 'plain']), 5_000_000, stop);
    await new Promise((resolve) => setTimeout(resolve, BEFORE_MS));
    await pair.promoteNew();
    await pair.demoteOld();
    endpoint.retarget(pair.newPort);
    plainEndpoint.retarget(pair.newPort);
    switchedAt = Date.now();
    const [moduleLedger, plainLedger] = await Promise.all([moduleRun, plainRun]);
    const counts = new Map<number, number>();
    for (const id of await pair.ids()) counts.set(id, (counts.get(id) ?? 0) + 1);
    const summary = (ledger: Awaited<ReturnType<typeof writers>>): Round => {
      const failed = ledger.failed.filter(({ at }) => at >= switchedAt);
      const written = ledger.written.filter(({ at }) => at >= switchedAt);
      return {
        failedAfterSwitch: failed.length,
        lastFailureMs: failed.length ? Math.max(...failed.map(({ at }) => at)) - switchedAt : null,
        firstWriteMs: written.length ? Math.min(...written.map(({ at }) => at)) - switchedAt : null,
        writesAfterSwitch: written.length,
        lostOrDoubled:
          ledger.written.filter(({ id }) => counts.get(id) !== 1).length +
          ledger.failed.filter(({ id }) => counts.has(id)).length,
        breakerOpened: false,
      };
    };
    await waitUntil(async () => events.some((e) => e.type === 'writer-changed'), 'the failover said', 5_000).catch(
      () => undefined,
    );
    return {
      module: {
        ...summary(moduleLedger),
        breakerOpened: events.some((e) => e.type === 'breaker-state' && e.state === 'open'),
      },
      plain: summary(plainLedger),
    };
  } finally {
    await context.close().catch(() => undefined);
    await plain.destroy().catch(() => undefined);
    await endpoint.stop();
    await plainEndpoint.stop();
    await pair.destroy();
  }
}

const ms = (value: number | null) => (value === null ? '—' : `${value}`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * A writer failover behind one endpoint under 20 writing callers, the module with forRoot()'s defaults against
 * plain TypeORM in the same run, per engine: failed writes after the switch, the last of them, and the writes the
 * new writer took.
 */
export async function failoverBench(): Promise<BenchTable> {
  const rows: string[][] = [];
  for (const [engine, makePair] of WRITER_PAIRS) {
    const rounds: Array<{ module: Round; plain: Round }> = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(makePair));
    for (const side of ['plain', 'module'] as const) {
      const of = rounds.map((r) => r[side]);
      rows.push([
        `${engine}: ${side === 'plain' ? 'plain TypeORM (baseline)' : 'with the module'}`,
        of.map((r) => r.failedAfterSwitch).join(' / '),
        of.map((r) => ms(r.lastFailureMs)).join(' / '),
        of.map((r) => ms(r.firstWriteMs)).join(' / '),
        `${median(of.map((r) => r.writesAfterSwitch))}`,
        side === 'module' ? `${of.filter((r) => r.breakerOpened).length}` : '—',
        `${of.reduce((sum, r) => sum + r.lostOrDoubled, 0)}`,
      ]);
    }
  }
  return {
    title:
      'Writer failover behind an endpoint, 20 writing callers (target: no write fails later than 1 s after the switch)',
    columns: [
      'app',
      'writes failed after the switch (each round)',
      'last failure, ms after the switch',
      'first write after the switch, ms',
      `writes in the ${AFTER_MS / 1000} s after (median)`,
      'rounds the breaker opened',
      'lost, doubled or failed-but-written',
    ],
    rows,
    notes: [
      `${ROUNDS} rounds per engine, each on two fresh servers of its own: MariaDB, two servers (the old one set read_only, the app's user without SUPER); PostgreSQL, a primary and its streaming standby (promoted with pg_promote(), the old primary set default_transaction_read_only).`,
      `${CALLERS} callers write through the module (half execute({ retry: true }), half transaction()) and ${CALLERS} through plain TypeORM, each through a TCP endpoint of its own that sends new connections to the new writer at the switch; ${BEFORE_MS / 1000} s of writes before it. The module with forRoot()'s defaults.`,
    ],
  };
}
