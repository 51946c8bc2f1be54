import type { ClassifiedError } from '../../classification/classified-error';
import { ErrorCategory } from '../../classification/error-category.enum';
import type { ConnectionState } from './connection-state';
import type { ConnectionFate, DriverAdapter, DriverCallback, StatementRunner } from './driver-adapter';

/** A connection without a server: its statements are answered by the pool's `answer`, or never. */
export interface FakeConnection {
  readonly id: number;
  readonly pool: FakePool;
  query(...args: unknown[]): unknown;
  closed: boolean;
}

/** What a statement gets: an error, rows, or (undefined) no answer at all (a hung server). */
export type Answer = { error?: unknown; rows?: unknown[] } | undefined;

/** A pool of fake connections: lent at once while `refuse` is unset, each call kept. */
export class FakePool {
  readonly idle: FakeConnection[] = [];
  readonly sent: string[] = [];
  /** Each statement with the connection that sent it. */
  readonly sentBy: Array<{ id: number; sql: string }> = [];
  lent = 0;
  created = 0;
  released = 0;
  discarded = 0;
  refuse: unknown = undefined;
  /** Lends nothing (a pool with every connection out): the borrow waits. */
  exhausted = false;

  constructor(
    readonly name: string,
    public answer: (sql: string, connection: FakeConnection) => Answer = () => ({ rows: [] }),
  ) {}

  connection(): FakeConnection {
    return this.idle.pop() ?? this.fresh();
  }

  /** A new connection, never pooled before. */
  fresh(): FakeConnection {
    const connection: FakeConnection = {
      id: ++this.created,
      pool: this,
      closed: false,
      query: (...args: unknown[]) => {
        const first = args[0] as string | { sql: string };
        const sql = typeof first === 'string' ? first : first.sql;
        this.sent.push(sql);
        this.sentBy.push({ id: connection.id, sql });
        const callback = args[args.length - 1] as DriverCallback;
        const answer = connection.closed
          ? { error: Object.assign(new Error('closed'), { code: 'ECONNRESET' }) }
          : this.answer(sql, connection);
        if (answer) setImmediate(() => callback(answer.error ?? null, answer.rows ?? []));
        return undefined;
      },
    };
    return connection;
  }
}

/** An adapter over FakePools, the way an engine's adapter is written: unit specs of the core use it. */
export class FakeAdapter implements DriverAdapter<FakeConnection, FakePool> {
  readonly stopped: number[] = [];
  readonly interpreted: string[] = [];
  readonly replicas: Array<{ node: string; pool: FakePool }> = [];

  constructor(readonly primary = new FakePool('primary')) {}

  primaryPool = () => this.primary;
  replicaPools = () => this.replicas;
  primaryPoolSize = () => 4;

  acquire(pool: FakePool, callback: (error: unknown, connection?: FakeConnection) => void): void {
    if (pool.exhausted) return;
    setImmediate(() => {
      if (pool.refuse !== undefined) return callback(pool.refuse);
      pool.lent++;
      callback(undefined, pool.connection());
    });
  }
  open = (pool: FakePool) => Promise.resolve(pool.fresh());
  release(connection: FakeConnection): void {
    connection.pool.released++;
    connection.pool.idle.push(connection);
  }
  discard(connection: FakeConnection): void {
    connection.pool.discarded++;
    connection.closed = true;
  }
  close(connection: FakeConnection): void {
    connection.closed = true;
  }
  instrument(connection: FakeConnection, state: ConnectionState, runner: StatementRunner<FakeConnection>): void {
    connection.query = (...args: unknown[]) => runner.run(connection, state, args[0] as string, args);
  }
  rowsOf = (result: unknown) => (result ?? []) as Array<Record<string, unknown>>;
  /** The server each connection reaches (behind a balancing endpoint, not all the same one). */
  serverOf = (_connection: FakeConnection): string | undefined => 'SERVER';
  session = (connection: FakeConnection) => ({ id: connection.id, server: this.serverOf(connection), pooled: false });
  stopStatement = (sessionId: number) => {
    this.stopped.push(sessionId);
    return { sql: `STOP ${sessionId}` };
  };
  withServerLimit = (_connection: FakeConnection, sql: string, _kind: unknown, leftMs: number) =>
    `/* limit ${Math.round(leftMs)} */ ${sql}`;
  fateOf(error: unknown, seen: ClassifiedError): ConnectionFate {
    if (seen.category !== ErrorCategory.CONNECTION) return undefined;
    return (error as { code?: string }).code === 'NOT_SENT' ? 'lost-before-sending' : 'lost';
  }
  interpret(_connection: FakeConnection, _state: ConnectionState, _error: unknown, seen: ClassifiedError) {
    this.interpreted.push(seen.name);
    return seen;
  }
  readonly serverName = 'SERVER NAME';
  readonly replicaLag = { sql: 'LAG', of: (rows: Array<Record<string, unknown>>) => (rows[0]?.lag as number) ?? null };
}
