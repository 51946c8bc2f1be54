import type { ClassifiedError } from '../../classification/classified-error';
import { ErrorCategory } from '../../classification/error-category.enum';
import { markAbortedBy } from '../../errors/database-error-marks';
import type { ConnectionState } from '../guard/connection-state';
import type { ConnectionFate, DriverAdapter, StatementRunner } from '../guard/driver-adapter';
import { ServerSessions, type ServerSession } from '../guard/server-sessions';
import type { PgClient, PgDriver, PgPool, PgRelease, PgResult } from './pg-client';
import { guardedPgQuery } from './pg-statements';

/** Seconds a standby is behind: 0 while all it received is replayed, else the last replayed transaction's age. */
const STANDBY_LAG =
  'SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL ' +
  'WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 ' +
  'ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag';

/** The server's name for itself (the address the connection reached, and the server's port). */
const SERVER_NAME = "COALESCE(host(inet_server_addr()), 'socket') || ':' || current_setting('port')";

/** Behind a pooler: how long a statement given up on is cancelled before its client is closed anyway. */
const CANCEL_BOUND_MS = 2_000;
/** ...and how often the cancel request is sent meanwhile. */
const CANCEL_RETRY_MS = 100;

/** PostgreSQL through node-postgres (pg) and pg-pool, as TypeORM's PostgresDriver pools it. */
export class PgAdapter implements DriverAdapter<PgClient, PgPool> {
  /** pg-pool's release of each lent client: a new one per borrow. */
  private readonly releases = new WeakMap<PgClient, PgRelease>();
  /** Clients given a listener for their 'error' event: one that fails while lent must not crash the process. */
  private readonly listened = new WeakSet<PgClient>();
  /** Clients whose statement is being cancelled through a pooler: true once released meanwhile. */
  private readonly cancelling = new Map<PgClient, boolean>();
  /**
   * Each client's `processID` checked against `pg_backend_pid()` (behind a pooler it is the pooler's key), and which
   * server it reaches.
   */
  private readonly sessions = new ServerSessions<PgClient>(`SELECT pg_backend_pid() AS id, ${SERVER_NAME} AS server`);

  constructor(
    private readonly driver: PgDriver,
    /** Told of each deadlock a client's statement lost (40P01), with the statement. */
    private readonly onDeadlock: (error: unknown, sql: string, pid: number | undefined) => void,
  ) {}

  primaryPool(): PgPool | undefined {
    return this.driver.master;
  }

  replicaPools(): Array<{ node: string; pool: PgPool }> {
    return this.driver.slaves.map((pool, index) => ({ node: `replica-${index + 1}`, pool }));
  }

  primaryPoolSize(): number | null {
    return this.driver.master?.options?.max ?? null;
  }

  acquire(pool: PgPool, callback: (error: unknown, client?: PgClient) => void): void {
    pool.connect((error, client, release) => {
      if (client === undefined || release === undefined) return callback(error ?? undefined, client);
      this.releases.set(client, release);
      if (this.listened.has(client)) return callback(undefined, client);
      this.listened.add(client);
      client.on('error', () => undefined); // its failures reach the statement that meets them
      this.sessions.learn(
        client,
        client.processID,
        (sql, answer) => this.ask(client, sql, answer),
        () => callback(undefined, client),
      );
    });
  }

  /** A client made as the pool makes its own (its class, its options). */
  open(pool: PgPool): Promise<PgClient> {
    const Client = pool.Client;
    if (Client === undefined) return Promise.reject(new Error('pg-pool gives no Client class'));
    const client = new Client(pool.options);
    client.on('error', () => undefined); // its failures reach the statement that meets them
    return new Promise((resolve, reject) => client.connect((error) => (error ? reject(error) : resolve(client))));
  }

  hasIdle(pool: PgPool): boolean {
    return (pool.idleCount ?? 0) > 0 && (pool.waitingCount ?? 0) === 0;
  }

  release(client: PgClient): void {
    this.releaseWith(client, undefined);
  }

  discard(client: PgClient): void {
    this.releaseWith(client, true);
  }

  /** Closes a client at once, whatever its server does: no error event, its pending query rejected. */
  close(client: PgClient): void {
    const internals = client as unknown as {
      end?: () => Promise<void>;
      connection?: { stream?: { destroy?: () => void } };
    };
    try {
      internals.end?.().catch(() => undefined); // sets pg's "ending": the socket's end is not an error
      internals.connection?.stream?.destroy?.(); // a hung server would never answer the Terminate
    } catch {
      // already closed
    }
  }

  instrument(client: PgClient, state: ConnectionState, runner: StatementRunner<PgClient>): void {
    client.query = (...args: unknown[]) => {
      const first = args[0];
      // Promise-style calls (TypeORM's) are guarded; callbacks and streams pass.
      if (typeof first !== 'string' || typeof args[args.length - 1] === 'function') {
        return state.rawQuery.apply(client, args);
      }
      return guardedPgQuery(runner, client, state, first, args[1]);
    };
  }

  rowsOf(result: unknown): Array<Record<string, unknown>> {
    return (result as { rows?: Array<Record<string, unknown>> } | undefined)?.rows ?? [];
  }

  /** The backend pid, once the server confirmed it (behind PgBouncer `processID` is the pooler's key), and server. */
  session(client: PgClient): ServerSession | undefined {
    return this.sessions.of(client);
  }

  /**
   * A statement of the module's own before the client is lent (so that no statement of the caller's queues behind
   * it; pg 9 refuses a query queued on a client in use).
   */
  private ask(client: PgClient, sql: string, answer: (error: unknown, row?: Record<string, unknown>) => void): void {
    client.query(sql, (error: unknown, result?: PgResult) => answer(error, result?.rows?.[0]));
  }

  /**
   * Behind a pooler: the protocol's cancel request, which the pooler forwards to the server connection running the
   * client's statement. It is sent while the client's connection is still open (closed, the pooler no longer knows
   * the key, and a statement it already passed on runs on, orphaned), again every {@link CANCEL_RETRY_MS} (a
   * statement still queued in the pooler has no server yet: its request is dropped), until the client's statement
   * ends (pg's `drain`) or {@link CANCEL_BOUND_MS} passed; then the client is closed. TypeORM's release (it has the
   * error at once) waits meanwhile: pg-pool would close the client.
   */
  abandon(client: PgClient): boolean {
    if (this.sessions.of(client)?.pooled !== true) return false;
    const since = Date.now();
    let timer: NodeJS.Timeout | undefined;
    this.cancelling.set(client, false);
    const finish = () => {
      if (!this.cancelling.has(client)) return;
      clearTimeout(timer);
      client.removeListener?.('drain', finish);
      const released = this.cancelling.get(client);
      this.cancelling.delete(client);
      this.close(client);
      if (released) this.releaseWith(client, true);
    };
    const ask = () => {
      if (!this.cancelling.has(client)) return;
      if (Date.now() - since >= CANCEL_BOUND_MS || !this.sendCancel(client)) return finish();
      timer = setTimeout(ask, CANCEL_RETRY_MS);
    };
    client.once?.('drain', finish);
    ask();
    return true;
  }

  /** One cancel request for the client's statement, on a connection of its own; false if it cannot be sent. */
  private sendCancel(client: PgClient): boolean {
    const Connection = this.driver.postgres?.Connection;
    const { processID, secretKey, host, port } = client;
    if (Connection === undefined || processID == null || secretKey == null || host === undefined || !port) return false;
    try {
      const cancel = new Connection();
      cancel.on('error', () => undefined);
      cancel.on('connect', () => cancel.cancel(processID, secretKey));
      cancel.connect(port, host);
      return true;
    } catch {
      return false;
    }
  }

  stopStatement(pid: number): { sql: string; parameters: unknown[] } {
    return { sql: 'SELECT pg_terminate_backend($1)', parameters: [pid] };
  }

  /** A transaction's limit is set with its BEGIN (pg-statements); an autocommit statement goes out unchanged. */
  withServerLimit(_client: PgClient, sql: string): string {
    return sql;
  }

  fateOf(_error: unknown, seen: ClassifiedError): ConnectionFate {
    if (seen.category === ErrorCategory.CONNECTION || seen.fatal === true) return 'lost';
    // pg's own query_timeout leaves the statement running and the transaction open.
    return seen.name === 'PG_QUERY_READ_TIMEOUT' ? 'abandoned' : undefined;
  }

  /** A deadlock's victim: the report is read now; "transaction is aborted" (25P02) means the failure that aborted it. */
  interpret(client: PgClient, state: ConnectionState, error: unknown, seen: ClassifiedError, sql: string) {
    if (seen.sqlState === '40P01') this.onDeadlock(error, sql, this.sessions.of(client)?.id);
    if (seen.sqlState !== '25P02' || state.firstFailure === undefined) return seen;
    markAbortedBy(error, state.firstFailure);
    return state.firstFailure;
  }

  readonly serverName = `SELECT ${SERVER_NAME} AS name`;

  readonly replicaLag = {
    sql: STANDBY_LAG,
    of: (rows: Array<Record<string, unknown>>) => {
      const lag = rows[0]?.lag;
      return lag === null || lag === undefined ? null : Number(lag);
    },
  };

  private releaseWith(client: PgClient, destroy: true | undefined): void {
    if (this.cancelling.has(client)) return void this.cancelling.set(client, true); // destroyed once cancelled
    const release = this.releases.get(client);
    this.releases.delete(client); // pg-pool throws on a second release
    release?.(destroy);
  }
}
