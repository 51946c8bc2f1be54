import { CircuitBreaker } from '../../circuit-breaker/circuit-breaker';
import { ErrorClassifier } from '../../classification/error-classifier';
import { wasCounted } from '../../errors/database-error-marks';
import type { ResilienceEvent, WriterChangedEvent } from '../../events/resilience-event';
import { ResilienceEvents } from '../../events/resilience-events';
import { resolveOptions } from '../../options/options.schema';
import { guardSettingsOf } from '../database-engine';
import { FakeAdapter, type Answer, type FakeConnection, type FakePool } from './fake-adapter.spec-support';
import { GuardCore } from './guard-core';

const readOnly = () =>
  Object.assign(new Error('The MariaDB server is running with the --read-only option'), {
    errno: 1290,
    code: 'ER_OPTION_PREVENTS_STATEMENT',
  });
const lost = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

/** Two servers behind one endpoint: connections opened before `switchTo` lead to the old writer. */
function endpoint() {
  const adapter = new FakeAdapter();
  const servers = { old: { readOnly: false }, new: { readOnly: false } };
  const serverOf = new Map<number, keyof typeof servers>();
  let current: keyof typeof servers = 'old';
  adapter.primary.answer = () => ({ rows: [] });
  const answer = (connection: FakeConnection, sql: string) => {
    const server = serverOf.get(connection.id) ?? (serverOf.set(connection.id, current), current);
    if (sql === 'SERVER NAME') return { rows: [{ name: `${server}:3306` }] };
    return /^(INSERT|COMMIT)/.test(sql) && servers[server].readOnly ? { error: readOnly() } : { rows: [] };
  };
  return { adapter, servers, answer, switchTo: (to: keyof typeof servers) => (current = to) };
}

function coreOver(adapter: FakeAdapter) {
  const options = resolveOptions({ circuitBreaker: { failureThreshold: 2 } });
  const breaker = new CircuitBreaker('default', options.circuitBreaker);
  const events = new ResilienceEvents();
  const seen: ResilienceEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const core = new GuardCore<FakeConnection, FakePool>(
    'default',
    guardSettingsOf(options),
    adapter,
    new ErrorClassifier(),
    breaker,
    events,
  );
  const changes = () => seen.filter((e): e is WriterChangedEvent => e.type === 'writer-changed');
  return { core, breaker, changes };
}

/** Polls `condition` until it holds (2 s at most). */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('Writer failover behind one endpoint (no server)', () => {
  const cores: Array<GuardCore<FakeConnection, FakePool>> = [];
  afterEach(() => cores.splice(0).forEach((core) => core.dispose()));

  /** The core over an endpoint whose connections answer as the server each was opened to. */
  function setUp() {
    const failover = endpoint();
    const made = coreOver(failover.adapter);
    cores.push(made.core);
    // Each new fake connection asks the endpoint which server it reached (wrapped before the core wraps it).
    const connection = failover.adapter.primary.connection.bind(failover.adapter.primary);
    failover.adapter.primary.connection = () => {
      const made = connection();
      if (!(made as { routed?: boolean }).routed) {
        const sent = failover.adapter.primary.sent;
        made.query = (...args: unknown[]) => {
          const first = args[0] as string | { sql: string };
          const sql = typeof first === 'string' ? first : first.sql;
          sent.push(sql);
          const callback = args[args.length - 1] as (error: unknown, rows?: unknown) => void;
          const answer: Answer = made.closed ? { error: lost() } : failover.answer(made, sql);
          // The server's name comes back late, as a round trip on a loaded machine would.
          const reply = () => callback(answer?.error ?? null, answer?.rows ?? []);
          if (sql === 'SERVER NAME') setTimeout(reply, 20);
          else setImmediate(reply);
          return undefined;
        };
        (made as { routed?: boolean }).routed = true;
      }
      return made;
    };
    return { ...failover, ...made };
  }

  const run = (connection: FakeConnection, sql: string) =>
    new Promise<unknown>((resolve, reject) =>
      connection.query(sql, [], (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows))),
    );
  const settled = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );
  /** Borrows `n` connections at once, runs `sql` on each, gives them back. */
  async function writeOnEach(core: GuardCore<FakeConnection, FakePool>, n: number, sql = 'INSERT INTO t VALUES (1)') {
    const connections = await Promise.all(Array.from({ length: n }, () => core.borrowPrimary()));
    const outcomes = await Promise.all(connections.map((c) => settled(run(c, sql))));
    connections.forEach((c) => core.giveBack(c));
    return { connections, outcomes };
  }

  it("stale connections' read-only answers never reach the breaker; the pool's old connections are destroyed unasked and writes go to the new writer", async () => {
    const { core, adapter, servers, switchTo, breaker } = setUp();
    const before = await writeOnEach(core, 4);
    expect(before.outcomes).toEqual([undefined, undefined, undefined, undefined]);
    servers.old.readOnly = true; // demoted
    switchTo('new'); // the endpoint names the new writer
    const stale = await writeOnEach(core, 4);
    const refused = stale.outcomes.filter((error) => error !== undefined);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.every((error) => wasCounted(error, 'default'))).toBe(true); // so the retry runner counts none
    expect(breaker.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    const sentBefore = adapter.primary.sent.length;
    const after = await writeOnEach(core, 4);
    expect(after.outcomes).toEqual([undefined, undefined, undefined, undefined]);
    expect(after.connections.every((c) => !before.connections.includes(c))).toBe(true);
    expect(adapter.primary.sent.length - sentBefore).toBe(4); // the stale ones were not even pinged
  });

  it('a connection opened after the eviction that answers read-only too counts (no writer yet); a write that succeeds ends it', async () => {
    const { core, servers, switchTo, breaker } = setUp();
    await writeOnEach(core, 2);
    servers.old.readOnly = true; // every server read-only: no writer at all
    await writeOnEach(core, 2); // the first answer evicts; the other is stale
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
    await writeOnEach(core, 1); // opened after the eviction: counts
    await writeOnEach(core, 1);
    expect(breaker.state).toBe('open');

    breaker.reset();
    servers.old.readOnly = false; // a writer again
    await writeOnEach(core, 1);
    servers.old.readOnly = true; // a later failover starts a new eviction: not counted
    switchTo('new');
    await writeOnEach(core, 1);
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
  });

  it('a lost session evicts too (an old writer gone); losses of connections opened after it count', async () => {
    const { core, adapter, breaker } = setUp();
    await writeOnEach(core, 3);
    adapter.primary.idle.forEach((c) => (c.closed = true)); // the old writer went away
    await writeOnEach(core, 3); // three lost sessions: one eviction, nothing counted
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
    const survivor = await core.borrowPrimary();
    survivor.closed = true;
    await settled(run(survivor, 'SELECT 1'));
    expect(breaker.snapshot().consecutiveFailures).toBe(1);
  });

  it('one writer-changed event per failover: old → new, connections evicted, the time writes failed; none for a session lost on the same server', async () => {
    const { core, adapter, servers, switchTo, changes } = setUp();
    await writeOnEach(core, 3);
    await until(() => core.failover.writerName === 'old:3306'); // the writer's name, read after its first write
    servers.old.readOnly = true;
    switchTo('new');
    await writeOnEach(core, 3);
    await writeOnEach(core, 3);
    await writeOnEach(core, 3);
    await until(() => changes().length > 0);
    expect(changes()).toEqual([
      expect.objectContaining({ previous: 'old:3306', current: 'new:3306', evicted: 3, database: 'default' }),
    ]);
    expect(changes()[0].writesFailedMs).toBeGreaterThanOrEqual(0);

    const [connection] = (await writeOnEach(core, 1)).connections;
    connection.closed = true; // a session lost on the same server (a killed connection): no failover
    await writeOnEach(core, 1);
    const names = adapter.primary.sent.filter((sql) => sql === 'SERVER NAME').length;
    await writeOnEach(core, 1);
    await until(() => adapter.primary.sent.filter((sql) => sql === 'SERVER NAME').length > names); // read again
    await new Promise(setImmediate);
    expect(changes()).toHaveLength(1);
  });

  it('a connection opened before the endpoint switched, answering after the first write succeeded, makes no second event', async () => {
    const { core, adapter, servers, switchTo, changes } = setUp();
    await writeOnEach(core, 2);
    await until(() => core.failover.writerName === 'old:3306');
    servers.old.readOnly = true;
    await writeOnEach(core, 2); // evicted; the endpoint still leads to the old writer
    const late = await core.borrowPrimary(); // opened after the eviction, on the old writer
    await run(late, 'SELECT 1'); // (a fake connection meets its server at its first statement)
    switchTo('new');
    await writeOnEach(core, 1); // the new writer answers: the failover ends
    await settled(run(late, 'INSERT INTO t VALUES (2)')); // read-only: a second eviction
    core.giveBack(late);
    await writeOnEach(core, 1);
    const names = () => adapter.primary.sent.filter((sql) => sql === 'SERVER NAME').length;
    await until(() => names() >= 3 && core.failover.writerName === 'new:3306');
    await new Promise((resolve) => setTimeout(resolve, 30)); // the second settling's answer, if any
    expect(changes()).toEqual([expect.objectContaining({ previous: 'old:3306', current: 'new:3306' })]);
  });

  it("the module's own statements skip a stale connection (a probe never reaches the old writer)", async () => {
    const { core, servers, switchTo } = setUp();
    await writeOnEach(core, 2);
    servers.old.readOnly = true;
    switchTo('new');
    await writeOnEach(core, 1);
    expect(await core.housekeeping.serverName()).toBe('new:3306');
  });
});
