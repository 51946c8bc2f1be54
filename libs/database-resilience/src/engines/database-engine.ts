import type { DataSource, QueryRunner } from 'typeorm';
import type { ErrorClassifier } from '../classification/error-classifier';
import type { CircuitBreaker } from '../circuit-breaker/circuit-breaker';
import type { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import type { LostCommit } from '../errors/database-error-marks';
import type { DeadlockAccount } from './deadlock-account';
import type { ConcurrencyLimitState } from './pool-concurrency-limit';

/**
 * The seam a database engine plugs into. Everything that knows a driver's objects, its SQL dialect or its
 * server's reports lives behind it: the guard core (`engines/guard/`) over the engine's `DriverAdapter`, and what
 * the engine presents here (MySQL/MariaDB in `engines/mysql/`, PostgreSQL in `engines/postgres/`); the pipeline,
 * the observers and the Nest edge speak only these types. Another engine is a folder beside them with its adapter,
 * listed in `engines/engines.ts`, plus its error codes in the classifier's catalogue.
 */
export interface DatabaseEngine {
  /** For messages: `MySQL/MariaDB (mysql2)`. */
  readonly name: string;
  /** Whether it guards this DataSource (by TypeORM's `type`). */
  supports(dataSource: DataSource): boolean;
  /** Puts its guard on the DataSource's driver (once), and presents the DataSource to the module. */
  guard(dataSource: DataSource, database: string, dependencies: GuardDependencies): EngineGuard;
}

/** What an engine's guard is given. */
export interface GuardDependencies {
  readonly options: ResolvedResilienceOptions;
  readonly classifier: ErrorClassifier;
  readonly breaker: CircuitBreaker;
  readonly events: ResilienceEvents;
}

/** A guarded DataSource as its engine presents it: probes, health, pool, deadlocks, commit markers. */
export interface EngineGuard {
  /** A `SELECT 1` on the primary outside every breaker and unit of work: is the server back? */
  probe(): Promise<boolean>;
  /** The primary answers a trivial statement within `timeoutMs`. */
  checkPrimary(timeoutMs: number): Promise<ServerCheck>;
  /** Each replica (TypeORM replication): alive, and how far behind. */
  checkReplicas(timeoutMs: number): Promise<ReplicaCheck[]>;
  /** The pool now; undefined before it exists. */
  poolFigures(): PoolFigures | undefined;
  /** The adaptive limit in front of the primary's pool (`concurrencyLimit`); undefined while off or unused. */
  concurrencyLimit(): ConcurrencyLimitState | undefined;
  /** Each replica's lag as last measured, and whether reads go to it now. */
  replicaRoutes(): ReplicaRoute[];
  /** The server's account of the latest deadlock, parsed, if it can tell one. */
  latestDeadlock(): Promise<DeadlockAccount | undefined>;
  /** The server's deadlock counter since it started, if it keeps one. */
  deadlockCounter(): Promise<number | undefined>;
  /** Settles a commit whose outcome is unknown, by the unit's idempotency key. */
  readonly markers: CommitMarkers;
  /** The module is closing. */
  dispose(): void;
}

/**
 * Settles a commit whose outcome is unknown: by a marker row written inside the transaction with the unit's
 * idempotency key, or (PostgreSQL) by the transaction's id, which needs no key.
 */
export interface CommitMarkers {
  /** Makes the marker table (DDL, outside any transaction). */
  ensureTable(): Promise<void>;
  /** Inside the transaction: commits with it, or not at all. */
  write(queryRunner: QueryRunner, key: string): Promise<void>;
  /** Whether this lost commit can be settled at all: with a key, or by what the engine recorded of it. */
  canSettle(lost: LostCommit, key: string | undefined): boolean;
  /** Whether the lost transaction committed; undefined if that cannot be told in time. */
  settle(lost: LostCommit, key: string | undefined): Promise<boolean | undefined>;
}

/** A node of a synchronous cluster (Galera) as it describes itself; absent for a server that is not one. */
export interface ClusterNodeState {
  /** `wsrep_local_state_comment`: Synced, Donor/Desynced, Joining, Joined, Initialized... */
  state: string;
  /** Synced, ready and in the primary component: reads and writes may go to it. */
  synced: boolean;
  /** `wsrep_ready`: it accepts statements. */
  ready: boolean;
  /** `wsrep_cluster_status`: Primary, non-Primary, Disconnected. */
  component: string;
  clusterSize: number;
  /** `wsrep_flow_control_paused`: the share of time replication was paused by flow control since the last reading. */
  flowControlPaused: number;
  /** `wsrep_local_cert_failures` + `wsrep_local_bf_aborts`: local transactions a conflict with another node rolled back. */
  conflicts: number;
}

/** What one timed check of one server found. */
export interface ServerCheck {
  up: boolean;
  latencyMs: number;
  /** Why it is down: the driver's error, or the timeout. */
  error?: unknown;
  /** A Galera node's own account of itself (absent on other servers). */
  cluster?: ClusterNodeState;
}

export interface ReplicaCheck {
  node: string;
  up: boolean;
  latencyMs: number;
  lagSeconds: number | null;
  /** A Galera node's own account of itself (absent on other servers). */
  cluster?: ClusterNodeState;
  /** Whether reads go to it now: up, not resting after a failure, Synced if a Galera node, within `failover.maxLagMs`. */
  routable: boolean;
}

/** Where reads go: each replica's last measured lag, and whether reads go to it now. */
export interface ReplicaRoute {
  node: string;
  lagSeconds: number | null;
  routable: boolean;
}

/** A connection pool at one moment. */
export interface PoolFigures {
  /** Connections open (idle + in use). */
  total: number;
  idle: number;
  inUse: number;
  /** Callers waiting for a connection. */
  waiting: number;
  /** The pool's connection limit (`poolSize` / `connectionLimit`); null when unlimited. */
  limit: number | null;
}

/** What the guard needs of the module's options. */
export interface GuardSettings {
  pool: ResolvedResilienceOptions['pool'];
  replicaRetryMs: number;
  /** `failover.maxLagMs`, `failover.lagCheckIntervalMs`, `failover.readYourWritesMs`. */
  maxLagMs: number | null;
  lagCheckIntervalMs: number;
  readYourWritesMs: number;
  slowQueryMs: number;
  /** `queries.timeoutMs`: the bound of a data statement without a deadline of its own. */
  statementTimeoutMs: number | null;
  concurrencyLimit: ResolvedResilienceOptions['concurrencyLimit'];
}

/** The guard's settings, read from the module's options: the same for every engine. */
export function guardSettingsOf(options: ResolvedResilienceOptions): GuardSettings {
  return {
    pool: options.pool,
    replicaRetryMs: options.failover.replicaRetryMs,
    maxLagMs: options.failover.maxLagMs,
    lagCheckIntervalMs: options.failover.lagCheckIntervalMs,
    readYourWritesMs: options.failover.readYourWritesMs,
    slowQueryMs: options.queries.slowQueryMs,
    statementTimeoutMs: options.queries.timeoutMs,
    concurrencyLimit: options.concurrencyLimit,
  };
}
