import { ErrorClassifier } from '../../classification/error-classifier';
import { unitOfWork } from '../../context/unit-of-work';
import { abortedByOf } from '../../errors/database-error-marks';
import { TransactionRolledBackError } from '../../errors/transaction-rolled-back.error';
import { newConnectionState, type ConnectionState } from '../guard/connection-state';
import type { StatementRunner } from '../guard/driver-adapter';
import { PgAdapter } from './pg-adapter';
import type { PgClient, PgDriver, PgPool } from './pg-client';
import { guardedPgQuery } from './pg-statements';

const classifier = new ErrorClassifier();
const pgError = (code: string, message = 'pg error') => Object.assign(new Error(message), { code, severity: 'ERROR' });

/** A client whose statements the fake runner answers, and a runner that keeps what was sent. */
function setUp(answer: (sql: string) => unknown = () => ({ command: 'SELECT', rows: [] })) {
  const sent: string[] = [];
  const failed: unknown[] = [];
  const listeners: string[] = [];
  const client: PgClient = {
    // Only the adapter's own pid check reaches it: it answers the server's pid.
    query: (...args: unknown[]) =>
      (args[args.length - 1] as (e: unknown, r: unknown) => void)(null, { rows: [{ pid: 7 }] }),
    processID: 7,
    on: (event: string) => listeners.push(event),
  };
  const runner: StatementRunner<PgClient> = {
    database: 'default',
    run: (_client, state, sql, args) => {
      sent.push(sql);
      const result = answer(sql);
      const callback = args[args.length - 1] as (error: unknown, result?: unknown) => void;
      if (result instanceof Error) callback(result);
      else {
        if (/^BEGIN/.test(sql)) state.inTransaction = true; // as the core's lifecycle tracks it
        if (/^INSERT/.test(sql) && state.inTransaction) state.wrote = true;
        if (/^(COMMIT|ROLLBACK)/.test(sql)) state.inTransaction = false;
        callback(null, result);
      }
      return undefined;
    },
    giveBack: () => undefined,
    failed: (error) => failed.push(error),
  };
  const state: ConnectionState = newConnectionState('primary', client.query, () => undefined);
  return { sent, failed, listeners, client, runner, state };
}
const withDeadline = <T>(ms: number, work: () => Promise<T>) =>
  unitOfWork.run({ database: 'default', operation: 'op', deadline: { at: Date.now() + ms, ms } }, work);

describe('PostgreSQL statements around the core (pg-statements)', () => {
  it('BEGIN under a deadline carries SET LOCAL statement_timeout in the same message; TypeORM gets BEGIN’s answer', async () => {
    const { sent, client, runner, state } = setUp((sql) =>
      sql.startsWith('BEGIN;') ? [{ command: 'BEGIN' }, { command: 'SET' }] : { command: 'SELECT' },
    );
    const answer = await withDeadline(5_000, () => guardedPgQuery(runner, client, state, 'BEGIN', undefined));
    expect(sent[0]).toMatch(/^BEGIN; SET LOCAL statement_timeout = \d+$/);
    expect(answer).toEqual({ command: 'BEGIN' });
    expect(state.serverLimitMs).toBeGreaterThan(4_000);
    await guardedPgQuery(runner, client, state, 'BEGIN', undefined); // no deadline: plain
    expect(sent[1]).toBe('BEGIN');
  });

  it('reads the transaction id before COMMIT of a transaction that wrote, and only then', async () => {
    const { sent, client, runner, state } = setUp((sql) =>
      sql.includes('xact_id') ? { rows: [{ xid: '1234' }] } : { command: sql.split(' ')[0] },
    );
    await guardedPgQuery(runner, client, state, 'BEGIN', undefined);
    await guardedPgQuery(runner, client, state, 'INSERT INTO t VALUES ($1)', [1]);
    await guardedPgQuery(runner, client, state, 'COMMIT', undefined);
    expect(sent).toEqual([
      'BEGIN',
      'INSERT INTO t VALUES ($1)',
      expect.stringContaining('pg_current_xact_id'),
      'COMMIT',
    ]);
    expect(state.transactionId).toBe('1234');

    sent.length = 0;
    await guardedPgQuery(runner, client, state, 'BEGIN', undefined);
    state.wrote = false;
    await guardedPgQuery(runner, client, state, 'COMMIT', undefined);
    expect(sent).toEqual(['BEGIN', 'COMMIT']);
  });

  it('a COMMIT answered ROLLBACK fails the unit (nothing was written) and is recorded by the core', async () => {
    const { client, runner, state, failed } = setUp((sql) =>
      sql === 'COMMIT' ? { command: 'ROLLBACK' } : { command: 'X' },
    );
    state.inTransaction = true;
    await expect(guardedPgQuery(runner, client, state, 'COMMIT', undefined)).rejects.toBeInstanceOf(
      TransactionRolledBackError,
    );
    expect(failed).toHaveLength(1);
  });

  it('lowers the transaction’s limit only once earlier statements used up a tenth of it', async () => {
    const { sent, client, runner, state } = setUp();
    state.inTransaction = true;
    await withDeadline(5_000, async () => {
      state.serverLimitMs = 4_800; // about what BEGIN set
      await guardedPgQuery(runner, client, state, 'SELECT 1', undefined);
      expect(sent).toEqual(['SELECT 1']);
      state.serverLimitMs = 60_000; // set long ago: far above what is left
      await guardedPgQuery(runner, client, state, 'SELECT 2', undefined);
    });
    expect(sent[1]).toMatch(/^SET LOCAL statement_timeout = \d+$/);
    expect(state.serverLimitMs).toBeLessThan(5_000);
  });
});

describe('PgAdapter', () => {
  const pool = (): PgPool & { releases: unknown[] } => {
    const releases: unknown[] = [];
    return {
      releases,
      connect: (callback) => {
        const { client } = setUp();
        callback(undefined, client, (destroy?: unknown) => releases.push(destroy ?? 'pooled'));
      },
    };
  };
  const adapterOn = (master: PgPool, onDeadlock = jest.fn()) =>
    new PgAdapter({ master, slaves: [] } as unknown as PgDriver, onDeadlock);

  it('gives a client back to pg-pool once (pg-pool throws on a second release), destroyed or pooled', async () => {
    const master = pool();
    const adapter = adapterOn(master);
    const lent = await new Promise<PgClient>((resolve) => adapter.acquire(master, (_e, client) => resolve(client!)));
    adapter.discard(lent);
    adapter.release(lent);
    expect(master.releases).toEqual([true]);
  });

  it('listens to the error event of every client it lends, once: a client lost while lent must not crash the process', () => {
    const { client, listeners } = setUp();
    const same: PgPool = { connect: (callback) => callback(undefined, client, () => undefined) };
    const adapter = adapterOn(same);
    adapter.acquire(same, () => undefined);
    adapter.acquire(same, () => undefined);
    expect(listeners).toEqual(['error']);
  });

  it('tells what a failure did to the connection', () => {
    const adapter = adapterOn(pool());
    const fate = (error: unknown) => adapter.fateOf(error, classifier.classify(error));
    expect(fate(Object.assign(new Error('Connection terminated unexpectedly'), {}))).toBe('lost');
    expect(fate(pgError('57P01', 'terminating connection due to administrator command'))).toBe('lost');
    expect(fate(new Error('Query read timeout'))).toBe('abandoned');
    expect(fate(pgError('23505', 'duplicate key'))).toBeUndefined();
    expect(fate(pgError('57014', 'canceling statement due to statement timeout'))).toBeUndefined();
  });

  /** A client whose `pg_backend_pid()` answers `pid` (its processID is 7) a moment later, lent once by `adapter`. */
  const lentClient = async (adapter: PgAdapter, pid: number) => {
    const { client, state } = setUp();
    const sent: string[] = [];
    const drained: Array<() => void> = [];
    Object.assign(client, {
      drain: () => drained.splice(0).forEach((listener) => listener()),
      once: (_event: 'drain', listener: () => void) => drained.push(listener),
      removeListener: () => undefined,
      secretKey: 1234,
      host: '127.0.0.1',
      port: 6432,
      query: (sql: string, callback: (error: unknown, result: unknown) => void) => {
        sent.push(sql);
        setImmediate(() => callback(null, { rows: [{ id: pid, server: '10.0.0.5:5432' }] }));
      },
    });
    const same: PgPool = { connect: (callback) => callback(undefined, client, () => undefined) };
    await new Promise<void>((lent) =>
      adapter.acquire(same, () => {
        sent.push(`(lent: session ${adapter.session(client)?.id})`);
        lent();
      }),
    );
    return { client: client as PgClient & { drain(): void }, state, sent };
  };
  const cancelRequests: Array<[number, number]> = [];
  class FakeProtocolConnection {
    private readonly listeners: Record<string, () => void> = {};
    on(event: string, listener: () => void) {
      this.listeners[event] = listener;
    }
    connect() {
      setImmediate(() => this.listeners.connect?.());
    }
    cancel(processID: number, secretKey: number) {
      cancelRequests.push([processID, secretKey]);
    }
    end() {}
  }

  it("trusts a client's pid once the server confirms it; behind a pooler (PgBouncer) it names no session, and a statement is given up on by the protocol's cancel request, the close once it ended", async () => {
    const direct = adapterOn(pool());
    const { client: onServer, sent } = await lentClient(direct, 7);
    expect(sent).toEqual([
      expect.stringMatching(/^SELECT pg_backend_pid\(\) AS id, .* AS server$/),
      '(lent: session 7)',
    ]); // known before it is lent
    expect(direct.session(onServer)).toEqual({ id: 7, server: '10.0.0.5:5432', pooled: false });
    expect(direct.abandon(onServer)).toBe(false); // the core ends the session by its pid

    const pooled = new PgAdapter(
      { master: pool(), slaves: [], postgres: { Connection: FakeProtocolConnection } } as unknown as PgDriver,
      jest.fn(),
    );
    const { client: behindPooler } = await lentClient(pooled, 31337);
    expect(pooled.session(behindPooler)).toEqual({ id: undefined, server: '10.0.0.5:5432', pooled: true });
    const close = jest.spyOn(pooled, 'close').mockImplementation(() => undefined);
    expect(pooled.abandon(behindPooler)).toBe(true);
    pooled.discard(behindPooler); // TypeORM's release meanwhile waits: pg-pool would close the client
    await new Promise(setImmediate);
    expect(cancelRequests).toEqual([[7, 1234]]);
    expect(close).not.toHaveBeenCalled(); // its statement has not ended yet
    behindPooler.drain(); // the statement ended (cancelled)
    expect(close).toHaveBeenCalledWith(behindPooler);
  });

  it('reads 25P02 as the failure that aborted the transaction, and hands a deadlock victim to the report', async () => {
    const onDeadlock = jest.fn();
    const adapter = adapterOn(pool(), onDeadlock);
    const { client, state } = await lentClient(adapter, 7);
    const deadlock = pgError('40P01', 'deadlock detected');
    adapter.interpret(client, state, deadlock, classifier.classify(deadlock), 'UPDATE account SET b = 1');
    expect(onDeadlock).toHaveBeenCalledWith(deadlock, 'UPDATE account SET b = 1', 7);

    const cause = classifier.classify(pgError('23505', 'duplicate key'));
    state.firstFailure = cause;
    const aborted = pgError('25P02', 'current transaction is aborted');
    expect(adapter.interpret(client, state, aborted, classifier.classify(aborted), 'SELECT 1')).toBe(cause);
    expect(abortedByOf(aborted)).toBe(cause);
  });

  it('stops a statement by ending its session, with the pid as a parameter', () => {
    expect(adapterOn(pool()).stopStatement(42)).toEqual({ sql: 'SELECT pg_terminate_backend($1)', parameters: [42] });
  });
});
