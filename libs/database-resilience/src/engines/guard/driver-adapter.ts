import type { ClassifiedError } from '../../classification/classified-error';
import type { ClusterNodeState } from '../database-engine';
import type { StatementKind } from '../statement-kind';
import type { ConnectionState } from './connection-state';
import type { ServerSession } from './server-sessions';

/** A driver's callback: an error, or the results. */
export type DriverCallback = (error: unknown, ...results: unknown[]) => void;

/** What a failed statement did to its connection, as only the driver can tell. */
export type ConnectionFate =
  /** The connection is gone: destroyed, and a write in flight has an unknown outcome. */
  | 'lost'
  /** Gone, but the statement never left the client: nothing is unknown. */
  | 'lost-before-sending'
  /** The client gave up on a statement the server may still run (pg's query_timeout): destroyed, stopped there. */
  | 'abandoned'
  /**
   * The server answered that this session's node cannot serve (a Galera node out of the primary component):
   * destroyed, as a lost one. Before COMMIT nothing was applied; a COMMIT (or autocommit write) so answered may
   * have been, when it was in flight as the node was cut off: its outcome is unknown.
   */
  | 'refused'
  /** The connection is fine: the server answered with an error. */
  | undefined;

/**
 * The small part of a guard that knows one engine's driver (`C`: a pooled connection, `P`: a pool). Everything
 * else — borrowing, the statement lifecycle, the commit rule, replica routing, health — is the core's
 * (`GuardCore`), written once for every engine.
 */
/** A pooled connection: the core wraps its `query`. */
export interface GuardedConnection {
  query(...args: unknown[]): unknown;
}

/** What the adapter's wrappers hand back to the core. */
export interface StatementRunner<C> {
  /** The guarded database's name, for errors. */
  readonly database: string;
  /** One statement, `args` as the driver takes them with a callback last (`args[0]`: the SQL, or `{ sql }`). */
  run(connection: C, state: ConnectionState, sql: string, args: unknown[]): unknown;
  /** TypeORM gives the connection back: to the pool, or destroyed (`destroy`, or it must not be reused). */
  giveBack(connection: C, destroy?: boolean): void;
  /** A failure the engine found in an answer that was not an error (a COMMIT answered ROLLBACK): marked, recorded. */
  failed(error: unknown): void;
}

export interface DriverAdapter<C extends GuardedConnection, P> {
  /** The primary's pool; undefined before the DataSource is connected. */
  primaryPool(): P | undefined;
  /** The replica pools (TypeORM replication), each named as the health check shows it. */
  replicaPools(): ReadonlyArray<{ readonly node: string; readonly pool: P }>;
  /** The primary pool's size (the concurrency limit's ceiling); null if the driver does not say. */
  primaryPoolSize(): number | null;
  /** Takes a connection from `pool`, calling back once; the core bounds the wait. */
  acquire(pool: P, callback: (error: unknown, connection?: C) => void): void;
  /** Whether `pool` lends a connection at once (no wait to bound); optional. */
  hasIdle?(pool: P): boolean;
  /** When the connection last went back to its pool, if the driver stamps it (else the core does). */
  idleSince?(connection: C): number | undefined;
  /**
   * A connection of the module's own to the pool's endpoint, outside the pool, closed with `close` (to reach one
   * server behind a balancing endpoint: each new connection may reach another); optional.
   */
  open?(pool: P): Promise<C>;
  /** Gives a connection back to its pool. */
  release(connection: C): void;
  /** Takes a connection out of its pool for good. */
  discard(connection: C): void;
  /** Closes a connection at once, whatever its server does: a statement pending on it fails. */
  close(connection: C): void;
  /**
   * Gives up on the statement running on `connection` the way the engine must where a session id cannot be trusted
   * (behind a pooler: the protocol's cancel request first, then the close); false when it does not apply, and the
   * core closes the connection and stops the statement from another connection by its session id.
   */
  abandon?(connection: C): boolean;
  /**
   * Puts the core's wrappers on a connection met for the first time: its `query` hands guarded statements to
   * `runner.run` (`state.rawQuery` is the driver's own), its release goes to `runner.giveBack`.
   */
  instrument(connection: C, state: ConnectionState, runner: StatementRunner<C>): void;
  /** The rows of a driver's result (housekeeping reads them). */
  rowsOf(result: unknown): Array<Record<string, unknown>>;
  /**
   * The connection's session as its server confirmed it before the connection was first lent (ServerSessions): its
   * id there, if the driver's is it (behind a pooler it is not: nothing is ended or looked up by it), and the server.
   */
  session(connection: C): ServerSession | undefined;
  /** The statement, sent from another connection, that stops whatever a session is running. */
  stopStatement(sessionId: number): { sql: string; parameters?: unknown[] };
  /** A data statement with the server's own limit put on it a little before `leftMs` runs out (or unchanged). */
  withServerLimit(connection: C, sql: string, kind: StatementKind, leftMs: number): string;
  /** What a failed statement did to its connection. */
  fateOf(error: unknown, classified: ClassifiedError): ConnectionFate;
  /**
   * The engine's reading of a failure, before the core acts on it (PostgreSQL: the deadlock report read while the
   * other sessions are open; "transaction is aborted" read as the failure that aborted it).
   */
  interpret?(
    connection: C,
    state: ConnectionState,
    error: unknown,
    seen: ClassifiedError,
    sql: string,
  ): ClassifiedError;
  /** The statement whose one row's `name` is the server's name for itself (host:port): a failover changes it. */
  readonly serverName: string;
  /** A replica's lag: the statement, and its reading in seconds (null: not replicating). */
  readonly replicaLag: { readonly sql: string; of(rows: Array<Record<string, unknown>>): number | null };
  /** A node of a synchronous cluster (Galera): the statement, and its reading (null: the server is not one). */
  readonly clusterState?: { readonly sql: string; of(rows: Array<Record<string, unknown>>): ClusterNodeState | null };
}
