import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { ErrorClassifier } from 'nestjs-database-resilience';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import { HaproxyEndpoint } from '../../apps/cli/src/support/haproxy-endpoint';
import { MariaDbInstance } from '../../apps/cli/src/support/mariadb-instance';
import { PostgresInstance } from '../../apps/cli/src/support/postgres-instance';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const classifier = new ErrorClassifier();
const BYSTANDERS = 40;
const STOPS = 60;
const LOST_COMMITS = 6;

/** A session of another app, on one server, in a transaction and in a long statement all along. */
interface Bystander {
  /** Whether its statement is still running: neither stopped nor its session ended. */
  running(): boolean;
  end(): Promise<void>;
}

const MARK = 'balanced_stop';
/** The module's marker table, made on both servers as the app's schema is (a cluster's nodes share it). */
const MARKERS = 'resilience_idempotency_keys';

/** What differs between the engines: the servers, and the statements. */
interface Engine {
  start(): Promise<{ ports: [number, number]; stop(): Promise<void> }>;
  bystander(port: number, id: number): Promise<Bystander>;
  app(port: number): Parameters<typeof resilientApp>[0];
  sleep: string;
  /** How many statements with MARK run on the server now. */
  running: string;
  insert: string;
  count: string;
}

const ENGINES: Array<[string, Engine]> = [
  [
    'MariaDB',
    {
      async start() {
        const servers = await Promise.all([MariaDbInstance.create(), MariaDbInstance.create()]);
        for (const server of servers) {
          const admin = await server.connect('test');
          await admin.query('CREATE TABLE entry (id INT PRIMARY KEY, note VARCHAR(40))');
          await admin.query(
            `CREATE TABLE ${MARKERS} (idempotency_key VARCHAR(200) PRIMARY KEY, created_at TIMESTAMP(3))`,
          );
          await admin.end();
        }
        return {
          ports: [servers[0].port, servers[1].port],
          stop: async () => void (await Promise.all(servers.map((s) => s.destroy()))),
        };
      },
      async bystander(port, id) {
        const session = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test' });
        session.on('error', () => undefined);
        await session.query('BEGIN');
        await session.query('INSERT INTO entry VALUES (?, ?)', [-id, 'bystander']);
        let running = true;
        // KILL QUERY makes SLEEP return 1 at once; KILL ends the session.
        session.query('SELECT SLEEP(600)').then(
          () => (running = false),
          () => (running = false),
        );
        return { running: () => running, end: async () => session.destroy() };
      },
      app: (port) => ({ database: 'test', port }),
      sleep: `SELECT SLEEP(5) /* ${MARK} */`,
      running: `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%${MARK} %' AND INFO NOT LIKE '%PROCESSLIST%'`,
      insert: 'INSERT INTO entry VALUES (?, ?)',
      count: 'SELECT COUNT(*) AS n FROM entry WHERE id = ?',
    },
  ],
  [
    'PostgreSQL',
    {
      async start() {
        const servers = await Promise.all([PostgresInstance.create(), PostgresInstance.create()]);
        for (const server of servers) {
          const admin = await server.connect('test');
          await admin.query('CREATE TABLE entry (id INT PRIMARY KEY, note TEXT)');
          await admin.query(
            `CREATE TABLE ${MARKERS} (idempotency_key VARCHAR(200) PRIMARY KEY, created_at TIMESTAMPTZ(3))`,
          );
          await admin.end();
        }
        return {
          ports: [servers[0].port, servers[1].port],
          stop: async () => void (await Promise.all(servers.map((s) => s.destroy()))),
        };
      },
      async bystander(port, id) {
        const session = await pgSession(port);
        await session.query('BEGIN');
        await session.query('INSERT INTO entry VALUES ($1, $2)', [-id, 'bystander']);
        let running = true;
        session.query('SELECT pg_sleep(600)').then(
          () => (running = false),
          () => (running = false),
        );
        return { running: () => running, end: async () => void (await session.end().catch(() => undefined)) };
      },
      app: (port) => ({ database: 'test', port, postgres: { schema: 'public' } }),
      sleep: `SELECT pg_sleep(5) /* ${MARK} */`,
      running: `SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${MARK} %' AND query NOT LIKE '%pg_stat_activity%'`,
      insert: 'INSERT INTO entry VALUES ($1, $2)',
      count: 'SELECT COUNT(*)::int AS n FROM entry WHERE id = $1',
    },
  ],
];

/**
 * Two servers behind one balancing address (Debian's HAProxy, round robin; for the lost COMMITs a second one, with
 * the first server behind a fault proxy). A session id (MySQL thread id, PostgreSQL pid) names a session of one
 * server only: on the other it names somebody else's, or nobody. The module's own statements that act on a session
 * by its id — stopping a statement given up on, ending a session whose COMMIT was lost, asking what became of its
 * transaction — must reach the session's own server, or not be sent. Bystanders on the second server, in a
 * transaction and a long statement, whose session ids are those the app's sessions on the first server get (MariaDB
 * numbers each server's sessions from 1), must keep running through it all; every write answered committed is there
 * exactly once, every one answered failed is not.
 */
describe.each(ENGINES)('%s: two servers behind one balancing address', (name, engine) => {
  let servers: { ports: [number, number]; stop(): Promise<void> };
  let proxy: FaultProxy;
  let endpoint: HaproxyEndpoint;
  let proxiedEndpoint: HaproxyEndpoint;
  /** Through HAProxy to both servers; `proxied`, the same with the first server behind the fault proxy. */
  let app: ResilientApp;
  let proxied: ResilientApp;
  const bystanders: Bystander[] = [];

  beforeAll(async () => {
    servers = await engine.start();
    const [first, second] = servers.ports;
    proxy = await new FaultProxy('127.0.0.1', first, name === 'PostgreSQL' ? 'postgres' : 'mysql').start();
    endpoint = await HaproxyEndpoint.balance([first, second]);
    proxiedEndpoint = await HaproxyEndpoint.balance([proxy.port, second]);
    for (let id = 1; id <= BYSTANDERS; id++) bystanders.push(await engine.bystander(second, id));
    const options = {
      healthCheck: { enabled: false },
      alerts: { log: false },
      // Statements that only sleep and time out leave the servers silent: no breaker is what this is about.
      circuitBreaker: { failureThreshold: 10_000, minimumCalls: 10_000 },
    };
    app = await resilientApp({ ...engine.app(endpoint.port), options });
    proxied = await resilientApp({ ...engine.app(proxiedEndpoint.port), options });
  }, 180_000);

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await proxied?.close().catch(() => undefined);
    await Promise.all(bystanders.map((bystander) => bystander.end()));
    await endpoint?.stop();
    await proxiedEndpoint?.stop();
    await proxy?.stop();
    await servers?.stop();
  });

  const stillRunning = () => bystanders.filter((bystander) => bystander.running()).length;
  const countOnBoth = async (sql: string, values: unknown[] = []) => {
    let total = 0;
    for (const port of servers.ports) {
      const reader = await plainReader(engine, port);
      try {
        total += Number((await reader.query(sql, values))[0].n);
      } finally {
        await reader.close();
      }
    }
    return total;
  };
  const runningOnBoth = () => countOnBoth(engine.running);

  // Cancelled by the caller (a client that went away), not by a deadline: the server's own limit, set a little
  // before a deadline, would end the statement first, and the module's stop would never be sent.
  it(`${STOPS} statements cancelled on either server: each stopped, no bystander's statement stopped`, async () => {
    for (let round = 0; round < STOPS / 10; round++) {
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => {
          const signal = AbortSignal.timeout(150);
          return app.resilience
            .execute(() => app.dataSource.query(engine.sleep), { signal })
            .then(
              () => 'answered',
              (error: unknown) => classifier.classify(error).name,
            );
        }),
      );
      expect(outcomes.filter((outcome) => outcome !== 'REQUEST_CANCELLED')).toEqual([]);
      // Stopped on their own servers, long before their 5 s sleep ends (MariaDB's KILL may itself wait up to a
      // second for the session it stops to take the signal).
      await waitUntil(async () => (await runningOnBoth()) === 0, 'the statements stopped on their servers', 3_000);
    }
    // The module's stops are sent without waiting: give them time to arrive where they would.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(stillRunning()).toBe(BYSTANDERS);
  }, 120_000);

  it.each([
    ['cut after it was sent (applied)', (p: FaultProxy) => p.cutAfterNextCommit()],
    ['dropped before the server (not applied)', (p: FaultProxy) => p.dropNextCommit()],
  ])(
    'COMMITs %s on the first server: settled right or told unknown, no bystander ended',
    async (_fault, inject) => {
      const base = _fault.startsWith('cut') ? 1_000 : 2_000;
      const before = proxy.faultsInjected;
      const outcomes = new Map<number, 'committed' | 'failed' | 'unknown'>();
      const write = (id: number) =>
        proxied.resilience
          .transaction((manager) => manager.query(engine.insert, [id, 'lost commit']), {
            idempotencyKey: `balanced-${name}-${id}`,
          })
          .then(
            () => outcomes.set(id, 'committed'),
            (error: unknown) => {
              const seen = classifier.classify(error).name;
              outcomes.set(id, seen === 'COMMIT_OUTCOME_UNKNOWN' ? 'unknown' : 'failed');
            },
          );
      // Four at once, so that the pool's connections to both servers are used.
      for (let id = base; proxy.faultsInjected < before + LOST_COMMITS && id < base + 400; id += 4) {
        inject(proxy); // taken by the next COMMIT through the first server
        await Promise.all([0, 1, 2, 3].map((offset) => write(id + offset)));
      }
      expect(proxy.faultsInjected).toBe(before + LOST_COMMITS);
      const told = [...outcomes.values()];
      process.stdout.write(
        `[balanced ${name}] ${_fault}: ${told.filter((o) => o === 'committed').length} committed, ` +
          `${told.filter((o) => o === 'failed').length} failed, ${told.filter((o) => o === 'unknown').length} unknown\n`,
      );
      for (const [id, outcome] of outcomes) {
        if (outcome === 'unknown') continue;
        expect({ id, outcome, written: await countOnBoth(engine.count, [id]) }).toEqual({
          id,
          outcome,
          written: outcome === 'committed' ? 1 : 0,
        });
      }
      expect(stillRunning()).toBe(BYSTANDERS);
    },
    120_000,
  );
});

/** A plain connection to one server, to read what is there. */
async function plainReader(engine: Engine, port: number) {
  if (engine.sleep.includes('pg_sleep')) {
    const client = await pgSession(port);
    return {
      query: async (sql: string, values: unknown[]) => (await client.query(sql, values)).rows,
      close: () => client.end(),
    };
  }
  const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', database: 'test' });
  return {
    query: async (sql: string, values: unknown[]) => (await connection.query(sql, values))[0] as Array<{ n: number }>,
    close: () => connection.end(),
  };
}

async function pgSession(port: number): Promise<Client> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'test' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
