/** What the PostgreSQL engine uses of node-postgres (pg): typed here so that pg stays an optional peer. */

/** A pg `Client` as pg-pool lends it. */
export interface PgClient {
  query(...args: unknown[]): unknown;
  /** The backend's pid (`pg_backend_pid()`): what pg_cancel_backend and pg_terminate_backend take. */
  readonly processID?: number | null;
  on(event: 'error', listener: (error: unknown) => void): unknown;
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
}

/** TypeORM's PostgresDriver, the parts the guard takes over. */
export interface PgDriver {
  master?: PgPool;
  slaves: PgPool[];
  obtainMasterConnection(): Promise<[PgClient, PgRelease]>;
  obtainSlaveConnection(): Promise<[PgClient, PgRelease]>;
}
