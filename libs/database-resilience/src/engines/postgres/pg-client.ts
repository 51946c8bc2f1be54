/** What the PostgreSQL engine uses of node-postgres (pg): typed here so that pg stays an optional peer. */

/** A pg `Client` as pg-pool lends it. */
export interface PgClient {
  query(...args: unknown[]): unknown;
  /**
   * The backend's pid (`pg_backend_pid()`): what pg_cancel_backend and pg_terminate_backend take. Behind a pooler
   * (PgBouncer) it is the pooler's own key for the client, with `secretKey` what a cancel request takes.
   */
  readonly processID?: number | null;
  readonly secretKey?: number | null;
  /** Where the client connected (the server, or the pooler in front of it). */
  readonly host?: string;
  readonly port?: number;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** `drain`: its queue of statements ran empty. */
  once?(event: 'drain', listener: () => void): unknown;
  removeListener?(event: 'drain', listener: () => void): unknown;
}

/** The result of one simple or extended query. */
export interface PgResult {
  command?: string;
  rows?: Array<Record<string, unknown>>;
}

/** pg-pool's `release`: an argument (an error, or `true`) destroys the client instead of pooling it. */
export type PgRelease = (destroy?: unknown) => void;

/** A pg-pool `Pool`. */
export interface PgPool {
  connect(callback: (error: unknown, client?: PgClient, release?: PgRelease) => void): void;
  readonly totalCount?: number;
  readonly idleCount?: number;
  readonly waitingCount?: number;
  readonly options?: { max?: number };
  /** The client class it makes its clients with (pg's `Client`, or the one given). */
  readonly Client?: new (options: unknown) => PgClient & { connect(callback: (error: unknown) => void): void };
}

/** pg's protocol connection, for a cancel request on a socket of its own. */
export interface PgProtocolConnection {
  connect(port: number, host: string): void;
  cancel(processID: number, secretKey: number): void;
  end(): void;
  on(event: 'connect' | 'error' | 'end', listener: (...args: unknown[]) => void): unknown;
}

/** TypeORM's PostgresDriver, the parts the guard takes over. */
export interface PgDriver {
  /** The pg library TypeORM loaded. */
  postgres?: { Connection?: new () => PgProtocolConnection };
  master?: PgPool;
  slaves: PgPool[];
  obtainMasterConnection(): Promise<[PgClient, PgRelease]>;
  obtainSlaveConnection(): Promise<[PgClient, PgRelease]>;
}
