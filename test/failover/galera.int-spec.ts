import {
  CircuitBreakerRegistry,
  CommitOutcomeUnknownError,
  DatabaseHealthService,
  DeadlockAnalyticsService,
  PoolMonitor,
  type ResilienceEventOf,
} from 'nestjs-database-resilience';
import { createConnection } from 'mysql2/promise';
import { GaleraCluster, type GaleraNode } from '../../apps/cli/src/support/galera-cluster';
import { HaproxyEndpoint } from '../../apps/cli/src/support/haproxy-endpoint';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { writeUntil } from '../../apps/cli/src/support/writer-pair';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const ACCOUNTS = 8;
/** Each write's deadline in the kill test, and what a loaded 2-core machine may add to an answer past it. */
const DEADLINE_MS = 10_000;
const DEADLINE_MARGIN_MS = 500;
/**
 * A killed node stalls every commit of the cluster until the others suspect it: about 1 s with the cluster's
 * FAST_FAILURE_DETECTION (5 s with Galera's defaults). Writes started after the kill must be acknowledged within 2 s.
 */
const WRITES_BACK_MS = 2_000;
const OPENING_BALANCE = 1_000;

/**
 * A three-node Galera cluster (MariaDB 10.11, Debian's galera-4) of the test's own: certification conflicts between
 * two nodes, a node cut off the primary component, a desynced node, a node killed behind Debian's HAProxy.
 */
describe('Galera: three nodes', () => {
  let cluster: GaleraCluster;
  let node1: GaleraNode;
  let node2: GaleraNode;
  let node3: GaleraNode;
  const apps: ResilientApp[] = [];

  const appOn = async (
    port: number,
    options: Parameters<typeof resilientApp>[0]['options'] = {},
    replicas?: number[],
  ) => {
    const app = await resilientApp({
      database: 'test',
      port,
      replicaPort: replicas,
      options: { healthCheck: { enabled: false }, alerts: { log: false }, ...options },
    });
    apps.push(app);
    return app;
  };
  const sql = async (node: GaleraNode, statement: string) => {
    const connection = await node.connect();
    try {
      return (await connection.query(statement))[0] as Array<Record<string, unknown>>;
    } finally {
      await connection.end();
    }
  };

  beforeAll(async () => {
    cluster = await GaleraCluster.start();
    [node1, node2, node3] = cluster.nodes;
    await sql(node1, 'CREATE TABLE account (id INT PRIMARY KEY, balance INT NOT NULL)');
    await sql(node1, 'CREATE TABLE ledger (id BIGINT PRIMARY KEY, source INT NOT NULL, target INT NOT NULL)');
    await sql(node1, 'CREATE TABLE item (id BIGINT PRIMARY KEY, via VARCHAR(20) NOT NULL)');
    const rows = Array.from({ length: ACCOUNTS }, (_, id) => `(${id}, ${OPENING_BALANCE})`).join(', ');
    await sql(node1, `INSERT INTO account VALUES ${rows}`);
  }, 180_000);

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await cluster?.destroy();
  });

  it('a certification storm between two nodes: every 1213 at COMMIT re-run whole, none lost or doubled, none of unknown outcome; the analytics show certification conflicts by statement, table and node', async () => {
    // Two instances of the app, each on its own node, moving money between the same few accounts.
    const onNode1 = await appOn(node1.port, { retry: { maxAttempts: 30, budgetMs: 60_000 } });
    const onNode2 = await appOn(node2.port, { retry: { maxAttempts: 30, budgetMs: 60_000 } });
    const transfer = (app: ResilientApp) => (id: number) => {
      const source = id % ACCOUNTS;
      const target = (source + 1 + (id % (ACCOUNTS - 1))) % ACCOUNTS;
      return app.resilience.transaction(async (manager) => {
        await manager.query('UPDATE account SET balance = balance - 1 WHERE id = ?', [source]);
        await manager.query('UPDATE account SET balance = balance + 1 WHERE id = ?', [target]);
        await manager.query('INSERT INTO ledger (id, source, target) VALUES (?, ?, ?)', [id, source, target]);
      });
    };
    const failures: unknown[] = [];
    const perApp = 300;
    const run = async (app: ResilientApp, firstId: number) => {
      let next = firstId;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < firstId + perApp) {
            await transfer(app)(next++).catch((error: unknown) => failures.push(error));
          }
        }),
      );
    };
    await Promise.all([run(onNode1, 0), run(onNode2, 100_000)]);

    expect(failures).toEqual([]);
    expect(failures.filter((error) => error instanceof CommitOutcomeUnknownError)).toEqual([]);
    const ledger = await sql(node3, 'SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM ledger');
    expect(ledger[0]).toEqual({ n: 2 * perApp, d: 2 * perApp }); // every transfer once, read on the third node
    const [{ total }] = await sql(node3, 'SELECT SUM(balance) AS total FROM account');
    expect(Number(total)).toBe(ACCOUNTS * OPENING_BALANCE);

    // The conflicts at COMMIT were retried and are counted as certification conflicts, not InnoDB deadlocks.
    const conflictsSeen = [onNode1, onNode2].flatMap((app) =>
      app.events.filter(
        (e): e is ResilienceEventOf<'attempt-failed'> =>
          e.type === 'attempt-failed' && e.error.name === 'CERTIFICATION_CONFLICT',
      ),
    );
    expect(conflictsSeen.length).toBeGreaterThan(0);
    expect(conflictsSeen.every((e) => e.willRetry && e.error.sql === 'COMMIT')).toBe(true);
    const [report] = await onNode1.module.get(DeadlockAnalyticsService).report('default');
    const ownConflicts = conflictsSeen.filter((e) => onNode1.events.includes(e)).length;
    expect(report.certification).toMatchObject({
      conflicts: ownConflicts,
      topTables: [expect.objectContaining({ tables: 'account ↔ ledger' })],
      topNodes: [{ node: `127.0.0.1:${node1.port}`, conflicts: ownConflicts }],
    });
    expect(report.certification.topStatements.map((s) => s.fingerprint)).toContain(
      'UPDATE account SET balance = balance - ? WHERE id = ?',
    );
    // InnoDB deadlocks between two transactions of one node are still counted as deadlocks, conflicts apart.
    const ownDeadlocks = onNode1.events.filter(
      (e) => e.type === 'attempt-failed' && e.error.category === 'deadlock' && e.error.name === 'ER_LOCK_DEADLOCK',
    );
    expect(report.deadlocks).toBe(ownDeadlocks.length);
  }, 180_000);

  it("a node cut off the primary component refuses (1047): the unit is re-run on another node of the endpoint, the breaker stays closed; the health check shows each node's state and a node not Synced gets no reads", async () => {
    const endpoint = await HaproxyEndpoint.balance(cluster.nodes.map((node) => node.port));
    try {
      // Reads spread over node2 and node3 (TypeORM replication), writes through HAProxy to any node.
      const app = await appOn(endpoint.port, { failover: { lagCheckIntervalMs: 200 }, retry: { maxAttempts: 5 } }, [
        node2.port,
        node3.port,
      ]);
      const write = (id: number) =>
        app.resilience.transaction((manager) => manager.query('INSERT INTO item VALUES (?, ?)', [id, 'haproxy']));
      let stop = false;
      const load = writeUntil(write, 1, () => stop);
      await waitUntil(async () => Number((await sql(node1, 'SELECT COUNT(*) AS n FROM item'))[0].n) > 100, 'writes');
      const isolatedAt = Date.now();
      await cluster.isolate(node3);
      await waitUntil(async () => (await node3.state()) !== 'Synced', 'node3 out of the primary component');
      const since = app.events.length;
      await waitUntil(
        async () => app.events.slice(since).some((e) => e.type === 'attempt-failed' && e.error.errno === 1047),
        'a write refused by node3',
        15_000,
      );
      // The health check and the routing see it.
      const routes = () => app.module.get(PoolMonitor).replicaRoutes();
      await waitUntil(async () => routes()[1]?.routable === false, 'node3 left out of reads', 15_000);
      const [health] = await app.module.get(DatabaseHealthService).check();
      expect(health.status).toBe('degraded');
      expect(health.replicas[1]).toMatchObject({
        routable: false,
        cluster: { synced: false, component: 'non-Primary' },
      });
      expect(health.replicas[0]).toMatchObject({ routable: true, cluster: { state: 'Synced', synced: true } });
      const reads = await Promise.all(Array.from({ length: 12 }, () => readPort(app)));
      expect(reads.filter((port) => port === node3.port)).toEqual([]);
      stop = true;
      const ledger = await load;

      await cluster.isolate(node3, false);
      await waitUntil(async () => (await node3.state()) === 'Synced', 'node3 Synced again', 60_000);
      await waitUntil(async () => routes()[1]?.routable === true, 'node3 back in the reads', 15_000);

      // Every refused unit ran again on another node. Only a COMMIT already in flight on node3 when it was cut off may
      // fail (answered after node3 sees itself out of the group, 6 s later): of unknown outcome, for it has been seen
      // applied (its write-set had left) — the caller is told so, never that it failed.
      const inFlight = ({ at, ms }: { at: number; ms: number }) => at - ms < isolatedAt + 1_000;
      expect(ledger.failed.filter((failure) => !inFlight(failure) || !failure.unknown)).toEqual([]);
      expect(ledger.failed.length).toBeLessThanOrEqual(20);
      const breakerOpened = app.events.filter((e) => e.type === 'breaker-state' && e.state === 'open');
      expect(breakerOpened).toEqual([]);
      const ids = new Set((await sql(node1, "SELECT id FROM item WHERE via = 'haproxy'")).map((r) => Number(r.id)));
      expect(ledger.written.filter(({ id }) => !ids.has(id))).toEqual([]);
      expect(ledger.failed.filter(({ id, unknown }) => !unknown && ids.has(id))).toEqual([]); // failed, yet written
      expect(app.module.get(CircuitBreakerRegistry).get('default')!.state).toBe('closed');
    } finally {
      await endpoint.stop();
    }
  }, 180_000);

  it("a node killed under 20 writing callers behind HAProxy's checks: no answer past its deadline, writes started after the kill acknowledged within 2 s, none lost, the breaker stays closed; the node restarted is added back and new connections reach it", async () => {
    const endpoint = await HaproxyEndpoint.balance(cluster.nodes.map((node) => node.port));
    try {
      const app = await appOn(endpoint.port, { retry: { maxAttempts: 5 } });
      const write = (id: number) =>
        app.resilience.transaction((manager) => manager.query('INSERT INTO item VALUES (?, ?)', [id, 'kill']), {
          deadlineMs: DEADLINE_MS,
        });
      let killedAt = Infinity;
      let stop = false;
      const load = writeUntil(write, 1_000_000, () => stop);
      const count = async () => Number((await sql(node1, "SELECT COUNT(*) AS n FROM item WHERE via = 'kill'"))[0].n);
      await waitUntil(async () => (await count()) > 200, 'writes through HAProxy');
      killedAt = Date.now();
      await cluster.killNode(node3);
      await waitUntil(async () => (await endpoint.serverStates()).node3 === 'DOWN', 'HAProxy to take node3 out');
      await waitUntil(async () => Date.now() > killedAt + WRITES_BACK_MS + 2_000, 'writes after the kill');

      stop = true;
      const ledger = await load;
      // The node comes back (a state transfer from the others) and HAProxy's checks add it back: new connections
      // reach it again (the pool's open ones stay where they are).
      await cluster.startNode(node3);
      await waitUntil(async () => (await endpoint.serverStates()).node3 === 'UP', 'HAProxy to add node3 back');
      await waitUntil(async () => (await portThrough(endpoint.port)) === node3.port, 'a connection to node3 again');
      await write(2_000_000); // and the app writes through it

      const answers = [...ledger.written, ...ledger.failed];
      expect(answers.filter(({ ms }) => ms > DEADLINE_MS + DEADLINE_MARGIN_MS)).toEqual([]);
      // Only a write whose COMMIT was in flight on the killed node may have an unknown outcome; nothing else fails.
      expect(ledger.failed.filter(({ unknown }) => !unknown)).toEqual([]);
      expect(ledger.failed.length).toBeLessThanOrEqual(20);
      expect(ledger.failed.filter(({ at }) => at > killedAt + WRITES_BACK_MS)).toEqual([]);
      const startedAfterKill = ledger.written.filter(({ at, ms }) => at - ms >= killedAt);
      expect(Math.min(...startedAfterKill.map(({ at }) => at)) - killedAt).toBeLessThanOrEqual(WRITES_BACK_MS);
      const ids = new Set((await sql(node1, "SELECT id FROM item WHERE via = 'kill'")).map((r) => Number(r.id)));
      expect(ledger.written.filter(({ id }) => !ids.has(id))).toEqual([]); // none lost
      expect(app.events.filter((e) => e.type === 'breaker-state' && e.state === 'open')).toEqual([]);
    } finally {
      await endpoint.stop();
    }
  }, 240_000);
});

/** The port of the server a new connection through `port` reaches. */
async function portThrough(port: number): Promise<number> {
  const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test' });
  try {
    const [rows] = await connection.query('SELECT @@port AS port');
    return Number((rows as Array<{ port: number }>)[0].port);
  } finally {
    await connection.end();
  }
}

/** The port of the server a replica-side read went to. */
async function readPort(app: ResilientApp): Promise<number> {
  const runner = app.dataSource.createQueryRunner('slave');
  try {
    return Number(((await runner.query('SELECT @@port AS port')) as Array<{ port: number }>)[0].port);
  } finally {
    await runner.release();
  }
}
