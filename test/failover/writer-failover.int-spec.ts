import { DataSource } from 'typeorm';
import { CircuitBreakerRegistry, type ResilienceEventOf } from 'nestjs-database-resilience';
import { TimelineService } from '../../libs/database-resilience/src/history/timeline.service';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { HaproxyEndpoint } from '../../apps/cli/src/support/haproxy-endpoint';
import { WRITER_PAIRS, writeUntil, type WriterPair } from '../../apps/cli/src/support/writer-pair';

const CALLERS = 20;
/** After the endpoint names the new writer, no write may fail later than this (the bound). */
const SETTLED_MS = 1_000;
/** How long the writers go on after the switch. */
const AFTER_SWITCH_MS = 3_000;

const writers = (write: (id: number) => Promise<unknown>, firstId: number, stop: () => boolean) =>
  writeUntil(write, firstId, stop, CALLERS);

/** What the app reaches "the writer" through: new connections go where it says, open ones stay. */
interface Endpoint {
  readonly port: number;
  retarget(to?: 'old' | 'new'): Promise<void>;
  stop(): Promise<void>;
}

/** A TCP proxy of the tests' own (as a cluster DNS name that moves), or Debian's HAProxy (old server, new as backup). */
const ENDPOINTS: Record<string, (pair: WriterPair) => Promise<Endpoint>> = {
  'a proxy': async (pair) => {
    const proxy = await new FaultProxy('127.0.0.1', pair.oldPort, pair.protocol).start();
    return {
      port: proxy.port,
      retarget: async (to = 'new') => proxy.retarget(to === 'new' ? pair.newPort : pair.oldPort),
      stop: () => proxy.stop(),
    };
  },
  HAProxy: (pair) => HaproxyEndpoint.start(pair.oldPort, pair.newPort),
};

const CASES = WRITER_PAIRS.flatMap(([engine, makePair]) =>
  Object.entries(ENDPOINTS).map(([kind, makeEndpoint]) => [engine, kind, makePair, makeEndpoint] as const),
);

/**
 * A writer failover behind one endpoint: the old writer is fenced read-only and the endpoint sends new
 * connections to the new one, while the pool's connections stay on the old. Plain TypeORM beside the module,
 * through an endpoint of its own to the same servers, is the reference.
 */
describe.each(CASES)('%s: writer failover behind %s', (_engine, kind, makePair, makeEndpoint) => {
  let pair: WriterPair;
  let endpoint: Endpoint;
  let plainEndpoint: Endpoint;
  let app: ResilientApp;
  let plain: DataSource;

  beforeAll(async () => {
    pair = await makePair();
    endpoint = await makeEndpoint(pair);
    plainEndpoint = await makeEndpoint(pair);
    app = await resilientApp({
      ...pair.app,
      port: endpoint.port,
      options: {
        circuitBreaker: { recoveryTimeoutMs: 300 },
        retry: { maxAttempts: 4 },
        healthCheck: { enabled: false },
        alerts: { log: false },
      },
    });
    plain = await new DataSource(pair.plain(plainEndpoint.port)).initialize();
  }, 120_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await plain?.destroy().catch(() => undefined);
    await endpoint?.stop();
    await plainEndpoint?.stop();
    await pair?.destroy();
  });

  const breaker = () => app.module.get(CircuitBreakerRegistry).get('default')!;
  /** Half the callers write through `execute`, half in a transaction: both are re-run whole. */
  const moduleWrite = (id: number) =>
    id % 2 === 0
      ? app.resilience.execute(() => app.dataSource.query(pair.insert, [id, 'execute']), { retry: true })
      : app.resilience.transaction((manager) => manager.query(pair.insert, [id, 'transaction']));

  // Once per engine: it needs no endpoint switch.
  const onceForEngine = kind === 'a proxy' ? it : it.skip;

  onceForEngine(
    'with no writer at all (every server read-only) the breaker opens, and closes once a writer is back',
    async () => {
      await pair.demoteOld();
      let stop = false;
      const load = writers(moduleWrite, 1_000_000, () => stop);
      try {
        await waitUntil(async () => breaker().state === 'open', 'the breaker to open', 15_000);
        await pair.restoreOld();
        await waitUntil(async () => breaker().state === 'closed', 'the breaker to close', 15_000);
      } finally {
        stop = true;
        await pair.restoreOld();
      }
      const { written } = await load;
      expect(written.length).toBeGreaterThan(0); // writes succeed again once the writer is back
      expect(app.events.filter((e) => e.type === 'writer-changed')).toEqual([]); // the same writer: no failover
    },
    60_000,
  );

  it('under 20 writing callers: no write fails later than 1 s after the switch, none lost or doubled, the breaker stays closed; plain TypeORM keeps failing', async () => {
    const from = app.events.length;
    let failoverAt = Infinity;
    let switchedAt = Infinity;
    // What the failover caused (a late event of the previous test is not).
    const since = () => app.events.slice(from).filter((e) => e.at >= failoverAt);
    const done = () => Date.now() > switchedAt + AFTER_SWITCH_MS;
    const module = writers(moduleWrite, 1, done);
    const reference = writers((id) => plain.query(pair.insert, [id, 'plain']), 500_000, done);
    // Steady writes on the old writer first, so that every pooled connection leads there.
    await waitUntil(async () => (await pair.ids()).length >= 200, 'writes on the old writer', 20_000);
    failoverAt = Date.now();
    await pair.promoteNew();
    await pair.demoteOld();
    await Promise.all([endpoint.retarget(), plainEndpoint.retarget()]);
    switchedAt = Date.now();
    const [ledger, plainLedger] = await Promise.all([module, reference]);

    const late = ledger.failed.filter(({ at }) => at > switchedAt + SETTLED_MS);
    expect(late).toEqual([]);
    expect(since().filter((e) => e.type === 'breaker-state' && e.state === 'open')).toEqual([]);
    const ids = await pair.ids();
    const seen = new Map<number, number>();
    for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    expect(ledger.written.filter(({ id }) => seen.get(id) !== 1)).toEqual([]); // lost or doubled
    expect(ledger.failed.filter(({ id }) => seen.has(id))).toEqual([]); // reported failed but written
    expect(ledger.written.filter(({ at }) => at > switchedAt).length).toBeGreaterThan(CALLERS);

    // The reference: plain TypeORM's pooled connections stay on the old writer and keep failing.
    expect(plainLedger.failed.filter(({ at }) => at > switchedAt + SETTLED_MS).length).toBeGreaterThan(0);

    // What operators see: one writer-changed event and timeline entry, one alert, no breaker-open alert.
    await waitUntil(async () => since().some((e) => e.type === 'writer-changed'), 'the writer-changed event');
    const changes = since().filter((e): e is ResilienceEventOf<'writer-changed'> => e.type === 'writer-changed');
    expect(changes).toEqual([
      expect.objectContaining({
        previous: expect.stringContaining(`:${pair.oldPort}`),
        current: expect.stringContaining(`:${pair.newPort}`),
      }),
    ]);
    expect(changes[0].evicted).toBeGreaterThan(0);
    expect(app.module.get(TimelineService).list()).toContainEqual(
      expect.objectContaining({ kind: 'writer', previous: changes[0].previous, current: changes[0].current }),
    );
    const alerts = since().filter((e): e is ResilienceEventOf<'alert-raised'> => e.type === 'alert-raised');
    expect(alerts.filter((a) => a.rule === 'writer-changed')).toHaveLength(1);
    expect(alerts.filter((a) => a.rule === 'breaker-open')).toHaveLength(0);
  }, 90_000);

  onceForEngine(
    'when the writer is gone rather than demoted (its sessions reset, the endpoint names the other): the same, outcome unknown only for writes in flight',
    async () => {
      await pair.restoreOld(); // the old writer takes over again
      const from = app.events.length;
      let stoppedAt = Infinity;
      const load = writers(moduleWrite, 2_000_000, () => Date.now() > stoppedAt + AFTER_SWITCH_MS);
      await waitUntil(async () => (await pair.ids()).filter((id) => id >= 2_000_000).length >= 100, 'writes', 20_000);
      await endpoint.retarget('old');
      stoppedAt = Date.now();
      await pair.stopNew();
      const ledger = await load;
      await pair.startNew();

      // A write in flight when the server went may or may not have been applied: the caller is told so. No other
      // failure later than 1 s after the writer went.
      const unknown = ledger.failed.filter((failure) => failure.unknown);
      expect(unknown.length).toBeLessThanOrEqual(CALLERS);
      const late = ledger.failed.filter(
        ({ at, unknown: outcomeUnknown }) => at > stoppedAt + SETTLED_MS && !outcomeUnknown,
      );
      expect(late).toEqual([]);
      const counts = new Map<number, number>();
      for (const id of await pair.ids()) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect(ledger.written.filter(({ id }) => counts.get(id) !== 1)).toEqual([]);
      const known = ledger.failed.filter((f) => !unknown.includes(f));
      expect(known.filter(({ id }) => counts.has(id))).toEqual([]);
      expect(ledger.written.filter(({ at }) => at > stoppedAt).length).toBeGreaterThan(CALLERS);
      expect(app.events.slice(from).filter((e) => e.type === 'breaker-state' && e.state === 'open')).toEqual([]);
    },
    90_000,
  );
});
