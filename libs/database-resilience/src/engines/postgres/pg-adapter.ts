import type { ClassifiedError } from '../../classification/classified-error';
import { ErrorCategory } from '../../classification/error-category.enum';
import { markAbortedBy } from '../../errors/database-error-marks';
import type { ConnectionState } from '../guard/connection-state';
import type { ConnectionFate, DriverAdapter, StatementRunner } from '../guard/driver-adapter';
import type { PgClient, PgDriver, PgPool, PgRelease } from './pg-client';
import { guardedPgQuery } from './pg-statements';

/** Seconds a standby is behind: 0 while all it received is replayed, else the last replayed transaction's age. */
const STANDBY_LAG =
  'SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL ' +
  'WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 ' +
  'ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag';

/** PostgreSQL through node-postgres (pg) and pg-pool, as TypeORM's PostgresDriver pools it. */
export class PgAdapter implements DriverAdapter<PgClient, PgPool> {
  /** pg-pool's release of each lent client: a new one per borrow. */
  private readonly releases = new WeakMap<PgClient, PgRelease>();
  /** Clients given a listener for their 'error' event: one that fails while lent must not crash the process. */
  private readonly listened = new WeakSet<PgClient>();

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
      if (client !== undefined && release !== undefined) {
        this.releases.set(client, release);
        if (!this.listened.has(client)) {
          this.listened.add(client);
          client.on('error', () => undefined); // its failures reach the statement that meets them
        }
      }
      callback(error ?? undefined, client);
    });
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

  sessionId(client: PgClient): number | undefined {
    return client.processID ?? undefined;
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
    if (seen.sqlState === '40P01') this.onDeadlock(error, sql, client.processID ?? undefined);
    if (seen.sqlState !== '25P02' || state.firstFailure === undefined) return seen;
    markAbortedBy(error, state.firstFailure);
    return state.firstFailure;
  }

  readonly serverName = "SELECT COALESCE(host(inet_server_addr()), 'socket') || ':' || current_setting('port') AS name";

  readonly replicaLag = {
    sql: STANDBY_LAG,
    of: (rows: Array<Record<string, unknown>>) => {
      const lag = rows[0]?.lag;
      return lag === null || lag === undefined ? null : Number(lag);
    },
  };

  private releaseWith(client: PgClient, destroy: true | undefined): void {
    const release = this.releases.get(client);
    this.releases.delete(client); // pg-pool throws on a second release
    release?.(destroy);
  }
}
