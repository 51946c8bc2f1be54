import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { ErrorCategory } from '../classification/error-category.enum';
import type { ErrorClassifier } from '../classification/error-classifier';
import type { CircuitBreaker } from '../circuit-breaker/circuit-breaker';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { PoolAcquireTimeoutError } from '../errors/pool-acquire-timeout.error';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { housekeeping, nextUnitId, unitOfWork, type UnitOfWork } from '../context/unit-of-work';
import { withTimeout } from '../context/with-timeout';
import { fingerprintSql } from '../classification/sql-fingerprint';
import type { ClassifiedError } from '../classification/classified-error';
import type { ResilienceEvents } from '../events/resilience-events';
import { requestContext, type RequestContext } from '../context/request-context';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import { markCounted, markDatabaseError, markOutcomeUnknown, outcomeUnknownOf } from '../errors/database-error-marks';
import type { Mysql2Connection, ObtainingDriver } from './mysql2-connection';
import { statementOf, type StatementKind } from './statement-kind';
import { preciseWatch, Watchdog, type Watch, type Watched } from './watchdog';

/** How late the default bounds (pool wait, `queries.timeoutMs`) may fire. */
const WATCHDOG_TICK_MS = 100;

type Deadline = NonNullable<UnitOfWork['deadline']>;

/** Takes a connection from a pool; calls back once. `hasIdle`: a connection is free, so it will not wait. */
type Obtain = ((callback: (error: unknown, connection?: Mysql2Connection) => void) => void) & {
  hasIdle?: () => boolean;
};

/** The parts of TypeORM's MysqlDriver that take connections from mysql2's pool (or pool cluster) directly. */
interface PooledDriver {
  pool?: {
    getConnection(callback: (error: unknown, connection?: Mysql2Connection) => void): void;
    /** mysql2's own: handed out at once (on the next tick) while there are any. */
    _freeConnections?: { length: number };
  };
  poolCluster?: {
    getConnection(pattern: string, callback: (error: unknown, connection?: Mysql2Connection) => void): void;
  };
  prepareDbConnection?(connection: Mysql2Connection): Mysql2Connection;
}

/**
 * What TypeORM's obtainMasterConnection/obtainSlaveConnection do, with a callback instead of a promise (one
 * promise less per statement); `fallback` (TypeORM's own) where the driver is not built as expected.
 */
function fromPool(
  driver: PooledDriver,
  pattern: 'MASTER' | 'SLAVE*',
  fallback: () => Promise<Mysql2Connection>,
): Obtain {
  const obtain: Obtain = (callback) => {
    const prepared = (error: unknown, connection?: Mysql2Connection) =>
      error ? callback(error) : callback(undefined, driver.prepareDbConnection!(connection!));
    if (driver.prepareDbConnection && driver.poolCluster) driver.poolCluster.getConnection(pattern, prepared);
    else if (driver.prepareDbConnection && driver.pool) driver.pool.getConnection(prepared);
    else fallback().then((connection) => callback(undefined, connection), callback);
  };
  if (!driver.poolCluster) obtain.hasIdle = () => (driver.pool?._freeConnections?.length ?? 0) > 0;
  return obtain;
}

/**
 * What the guard follows of one pooled connection. Watched by the watchdog while a statement runs under the
 * default timeout (`queries.timeoutMs`): the same object each time, no allocation per statement.
 */
interface ConnectionState extends Watched {
  /** Replica connections say nothing to the primary's breaker. */
  role: 'primary' | 'replica';
  inTransaction: boolean;
  /** Destroyed instead of going back to the pool: it failed fatally, timed out, or talks to a read-only server. */
  doomed: boolean;
  /** The statement watched under the default timeout: ends it with an error. */
  running: ((error: unknown) => void) | undefined;
  runningOutcomeUnknownIfLost: boolean;
  /** mysql2's own query(): the module's housekeeping (KILL QUERY) goes through it, unbounded and unrecorded. */
  rawQuery: Mysql2Connection['query'];
}

/** Errors after which a connection must not be reused: the server is read-only (a demoted primary). */
const READ_ONLY_ERRNOS = new Set([1290, 1836, 1874, 1792]);
/**
 * The server is told to stop a statement this much before the caller's deadline (at most a quarter of the time
 * left), so that its own clean error usually comes first; the client stops waiting at the deadline itself.
 */
const SERVER_MARGIN_MS = 250;
const GUARDED = Symbol('database-resilience.guarded');

/** The parts of mysql2's PoolCluster and TypeORM's MysqlDriver that putting a replica back needs. */
interface ReplicaCluster {
  on(event: 'remove', listener: (nodeId: string) => void): void;
  add(id: string, config: unknown): void;
}
interface ReplicaNodes {
  of(pattern: string): { getConnection(callback: (error: unknown, connection?: Mysql2Connection) => void): void };
}
interface ReplicatedDriver {
  options: { replication?: { master?: unknown; slaves?: unknown[] } };
  createConnectionOptions(options: unknown, credentials: unknown): unknown;
}

/**
 * The one place that sits between TypeORM and mysql2's pool for a DataSource:
 * - bounds the wait for a pool connection (mysql2 has none);
 * - pings a connection that sat idle before handing it out, and replaces it if dead;
 * - follows each connection's side of COMMIT, and marks a failure after COMMIT or an autocommit write was sent
 *   as "outcome unknown";
 * - destroys, instead of pooling, a connection that failed fatally, timed out or hit a read-only server;
 * - applies the caller's deadline to each statement on the server (MariaDB `SET STATEMENT max_statement_time`,
 *   MySQL's `MAX_EXECUTION_TIME` hint for reads), with a client-side timer and `KILL QUERY` behind it;
 * - times every statement (a `query` event; a `slow-query` one past `queries.slowQueryMs`), and records each
 *   failure that no unit of work will record (a plain repository call, a connect error): every error once.
 */
export class ConnectionGuard {
  private readonly logger = new Logger('DatabaseResilience');
  private readonly states = new WeakMap<Mysql2Connection, ConnectionState>();
  private obtainUnguarded!: () => Promise<Mysql2Connection>;
  private obtainMaster!: Obtain;
  /** With replication: until when the replicas are left out after a failure. */
  private replicasDownUntil = 0;
  private readonly watchdog = new Watchdog(WATCHDOG_TICK_MS);

  constructor(
    private readonly dataSource: DataSource,
    private readonly database: string,
    private readonly options: ResolvedResilienceOptions['pool'],
    private readonly classifier: ErrorClassifier,
    private readonly breaker: CircuitBreaker,
    private readonly replicaRetryMs: number,
    private readonly events: ResilienceEvents,
    private readonly slowQueryMs: number,
    private readonly statementTimeoutMs: number | null,
  ) {}

  install(): void {
    const driver = this.dataSource.driver as unknown as ObtainingDriver & PooledDriver & { [GUARDED]?: boolean };
    if (typeof driver.obtainMasterConnection !== 'function') {
      this.logger.warn(`DataSource "${this.database}" is not a MySQL/MariaDB DataSource; it is not guarded`);
      return;
    }
    if (driver[GUARDED]) return;
    driver[GUARDED] = true;
    const master = driver.obtainMasterConnection.bind(driver);
    const slave = driver.obtainSlaveConnection.bind(driver);
    this.obtainUnguarded = master;
    this.obtainMaster = fromPool(driver, 'MASTER', master);
    driver.obtainMasterConnection = () => this.borrow(this.obtainMaster);
    const cluster = driver.poolCluster as ReplicaCluster | undefined;
    if (!cluster) return; // no replication: reads borrow from the primary through the wrapped master
    const obtainReplica = fromPool(driver, 'SLAVE*', slave);
    driver.obtainSlaveConnection = () => this.borrowReplica(obtainReplica);
    this.putBackRemovedReplicas(driver as unknown as ReplicatedDriver, cluster);
  }

  /**
   * A read: from a replica (whatever the primary's breaker says), or from the primary while the replicas are
   * failing. A failing replica is left out for `replicaRetryMs`.
   */
  private async borrowReplica(obtain: Obtain): Promise<Mysql2Connection> {
    if (Date.now() >= this.replicasDownUntil) {
      try {
        const connection = await this.acquired(obtain);
        this.instrument(connection, 'replica');
        if (await this.isAlive(connection)) return connection;
        connection.destroy();
      } catch (error) {
        this.replicasDownUntil = Date.now() + this.replicaRetryMs;
        this.logger.warn(
          `Replicas of "${this.database}" unavailable (${this.classifier.classify(error).message}): reads go to the primary for ${this.replicaRetryMs} ms`,
        );
      }
    }
    return this.borrow(this.obtainMaster);
  }

  /**
   * mysql2's PoolCluster removes a node for good after a few connect errors, the primary (MASTER) included:
   * put it back after `replicaRetryMs`, so that the service heals without a restart.
   */
  private putBackRemovedReplicas(driver: ReplicatedDriver, cluster: ReplicaCluster): void {
    cluster.on('remove', (nodeId: string) => {
      const replication = driver.options.replication;
      const index = /^SLAVE(\d+)$/.exec(nodeId)?.[1];
      const node =
        nodeId === 'MASTER'
          ? replication?.master
          : index === undefined
            ? undefined
            : replication?.slaves?.[Number(index)];
      if (node === undefined) return;
      setTimeout(() => {
        try {
          cluster.add(nodeId, driver.createConnectionOptions(driver.options, node));
        } catch (error) {
          this.logger.warn(
            `Could not put node ${nodeId} of "${this.database}" back: ${this.classifier.classify(error).message}`,
          );
        }
      }, this.replicaRetryMs).unref();
    });
  }

  /**
   * A primary connection for TypeORM. Callbacks rather than async steps: this runs for every statement outside a
   * transaction, and each promise or await it adds is time on every request.
   */
  private borrow(obtain: Obtain): Promise<Mysql2Connection> {
    try {
      this.breaker.admit(); // open: rejected here, before any I/O
    } catch (error) {
      return Promise.reject(error);
    }
    // The pool calls back in its own async context: what the caller belongs to is read here.
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    const deadline: Deadline | undefined = unit?.deadline ?? request?.deadline;
    return new Promise((resolve, reject) => {
      const lend = (tries: number) =>
        this.acquire(obtain, deadline, (error, connection) => {
          // Called back from mysql2's pool: whatever goes wrong here must reach the caller, not the process.
          try {
            if (error !== undefined) {
              const classified = this.report(error);
              markDatabaseError(error, classified);
              if (!unit) this.recordOutsideUnit(error, classified, request);
              return reject(error);
            }
            this.instrument(connection!, 'primary');
            if (tries > 20 || !this.idleTooLong(connection!)) return resolve(connection!);
            this.ping(connection!, deadline, (alive) => {
              if (alive) return resolve(connection!);
              connection!.destroy(); // dead while idle (server restarted, network dropped): the pool makes a new one
              lend(tries + 1);
            });
          } catch (unexpected) {
            reject(unexpected);
          }
        });
      lend(1);
    });
  }

  /**
   * Takes a connection from the pool, waiting at most `pool.acquireTimeoutMs`, and never past the caller's
   * deadline; `callback` is called once, with an error or the connection.
   */
  private acquire(
    obtain: Obtain,
    deadline: Deadline | undefined,
    callback: (error: unknown, connection?: Mysql2Connection) => void,
  ): void {
    if (deadline === undefined && obtain.hasIdle?.()) return obtain(callback); // no wait to bound
    const poolWaitMs = this.options.acquireTimeoutMs;
    const now = Date.now();
    const leftMs = deadline === undefined ? Infinity : deadline.at - now;
    const waitMs = Math.max(0, Math.min(poolWaitMs, leftMs));
    let settled = false;
    const expire = () => {
      settled = true;
      callback(
        leftMs < poolWaitMs
          ? new DeadlineExceededError(deadline!.ms, this.database)
          : new PoolAcquireTimeoutError(this.database, waitMs),
      );
    };
    const watch = this.watchUntil(now + waitMs, expire, deadline !== undefined);
    obtain((error, connection) => {
      if (settled) return connection?.release(); // came too late: back to the pool
      settled = true;
      watch.cancel();
      if (error) callback(error);
      else callback(undefined, connection);
    });
  }

  /** acquire() as a promise, for the paths that are not on every request. */
  private acquired(obtain: Obtain): Promise<Mysql2Connection> {
    return new Promise((resolve, reject) =>
      this.acquire(obtain, undefined, (error, connection) =>
        error === undefined ? resolve(connection!) : reject(error),
      ),
    );
  }

  /** A caller's own deadline gets a precise timer; the module's default bounds the coarse watchdog. */
  private watchUntil(at: number, onExpire: () => void, precise: boolean): Watch {
    return precise ? preciseWatch(at, onExpire) : this.watchdog.watch(at, onExpire);
  }

  /** Stops the watchdog (the module is closing). */
  dispose(): void {
    this.watchdog.stop();
  }

  /** Whether a connection sat idle long enough (`pool.validateAfterIdleMs`) to be pinged before use. */
  private idleTooLong(connection: Mysql2Connection): boolean {
    const idleLimit = this.options.validateAfterIdleMs;
    const lastActive = connection.lastActiveTime;
    return idleLimit !== null && lastActive !== undefined && Date.now() - lastActive >= idleLimit; // 0: always
  }

  /** Pings the connection, giving up after `pool.validationTimeoutMs` or at the deadline. */
  private ping(connection: Mysql2Connection, deadline: Deadline | undefined, callback: (alive: boolean) => void): void {
    const waitMs = Math.min(
      this.options.validationTimeoutMs,
      deadline === undefined ? Infinity : deadline.at - Date.now(),
    );
    let answered = false;
    const answer = (alive: boolean) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      callback(alive);
    };
    const timer = setTimeout(() => answer(false), Math.max(0, waitMs));
    connection.ping((error) => answer(!error));
  }

  private isAlive(connection: Mysql2Connection): Promise<boolean> | boolean {
    if (!this.idleTooLong(connection)) return true;
    return new Promise((resolve) => this.ping(connection, undefined, resolve));
  }

  private instrument(connection: Mysql2Connection, role: ConnectionState['role']): void {
    if (this.states.has(connection)) return;
    const state: ConnectionState = {
      role,
      inTransaction: false,
      doomed: false,
      at: 0,
      running: undefined,
      runningOutcomeUnknownIfLost: false,
      rawQuery: connection.query,
      onExpire: () => {
        const fail = state.running!;
        state.running = undefined;
        this.expire(connection, state, this.statementTimeoutMs!, state.runningOutcomeUnknownIfLost, fail);
      },
    };
    this.states.set(connection, state);
    const query = connection.query;
    const release = connection.release;
    connection.query = (...args: unknown[]) => this.query(connection, state, query, args);
    connection.release = () => (state.doomed ? connection.destroy() : release.call(connection));
  }

  private query(
    connection: Mysql2Connection,
    state: ConnectionState,
    query: Mysql2Connection['query'],
    args: unknown[],
  ): unknown {
    const callback = args[args.length - 1];
    const first = args[0] as string | { sql: string } | undefined;
    const sql = typeof first === 'string' ? first : first?.sql;
    if (typeof callback !== 'function' || typeof sql !== 'string') return query.apply(connection, args); // streams
    const { kind, data } = statementOf(sql);
    const outcomeUnknownIfLost = kind === 'commit' || (kind === 'write' && !state.inTransaction);
    // mysql2 calls back from its socket's events, in whatever async context the connection was made in:
    // what the statement belongs to is read here, at the call.
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    // Every statement of a caller with a deadline is bounded by it: START TRANSACTION, COMMIT and ROLLBACK too,
    // on a server that hangs they wait like any other.
    const deadline = unit?.deadline ?? request?.deadline;
    // `queries.timeoutMs`, for a data statement (or BEGIN / COMMIT / ROLLBACK) with no deadline of its own: a
    // hung server cannot hold a caller for ever. DDL (a migration's ALTER TABLE) is left alone.
    const timeoutMs = deadline === undefined && data ? this.statementTimeoutMs : null;

    let finished = false;
    let watch: Watch | undefined;
    let watchedOnState = false;
    const startedAt = performance.now();
    const done = (error: unknown, rows?: unknown, fields?: unknown) => {
      if (finished) return;
      finished = true;
      if (watch !== undefined) watch.cancel();
      else if (watchedOnState) {
        this.watchdog.delete(state);
        state.running = undefined;
      }
      this.timed(sql, kind, performance.now() - startedAt, Boolean(error), request);
      if (error) this.afterError(connection, state, error, kind, outcomeUnknownIfLost, unit !== undefined, request);
      else {
        this.afterSuccess(state, kind);
        if (state.role === 'primary') this.breaker.success();
      }
      (callback as (...a: unknown[]) => void)(error, rows, fields);
    };

    const sent = args; // the wrapper's own rest array: changing it touches nothing of the caller's
    sent[args.length - 1] = done;
    if (deadline !== undefined) {
      const remainingMs = deadline.at - Date.now();
      if (remainingMs <= 0) {
        process.nextTick(done, new DeadlineExceededError(deadline.ms, this.database));
        return undefined;
      }
      if (kind === 'read' || kind === 'write') {
        const limited = this.withServerDeadline(connection, sql, kind, remainingMs);
        sent[0] = typeof first === 'string' ? limited : { ...first, sql: limited };
      }
      watch = preciseWatch(deadline.at, () => this.expire(connection, state, deadline.ms, outcomeUnknownIfLost, done));
    } else if (timeoutMs !== null) {
      // The default timeout is enforced by the client alone (it kills the statement on the server too): the
      // statement goes out unchanged. A second statement queued on the same connection gets a watch of its own.
      if (state.running === undefined) {
        watchedOnState = true;
        state.at = Date.now() + timeoutMs;
        state.running = done;
        state.runningOutcomeUnknownIfLost = outcomeUnknownIfLost;
        this.watchdog.add(state);
      } else {
        watch = this.watchdog.watch(Date.now() + timeoutMs, () =>
          this.expire(connection, state, timeoutMs, outcomeUnknownIfLost, done),
        );
      }
    }
    return query.apply(connection, sent);
  }

  /**
   * A statement outlived its deadline; the server should have stopped it by now (hung, or a MySQL write): stop
   * waiting, stop it, drop the connection.
   */
  private expire(
    connection: Mysql2Connection,
    state: ConnectionState,
    ms: number,
    outcomeUnknownIfLost: boolean,
    done: (error: unknown) => void,
  ): void {
    const error = new DeadlineExceededError(ms, this.database);
    if (outcomeUnknownIfLost) markOutcomeUnknown(error, connection.threadId);
    state.doomed = true;
    // Destroyed now, not after the KILL: on a hung server the KILL waits too, and a ROLLBACK sent on this
    // connection meanwhile would wait with it. The server's work is stopped by thread id, from elsewhere.
    const threadId = connection.threadId;
    connection.destroy();
    void this.killQuery(threadId);
    done(error);
  }

  private afterSuccess(state: ConnectionState, kind: StatementKind): void {
    if (kind === 'begin') state.inTransaction = true;
    else if (kind === 'commit' || kind === 'rollback') state.inTransaction = false;
  }

  private afterError(
    connection: Mysql2Connection,
    state: ConnectionState,
    error: unknown,
    kind: StatementKind,
    outcomeUnknownIfLost: boolean,
    inUnit: boolean,
    request: RequestContext | undefined,
  ): void {
    if (kind === 'commit' || kind === 'rollback') state.inTransaction = false;
    const seen = state.role === 'primary' ? this.report(error) : this.classifier.classify(error);
    const lost =
      seen.category === ErrorCategory.CONNECTION ||
      seen.code === 'PROTOCOL_SEQUENCE_TIMEOUT' ||
      (error as { fatal?: unknown }).fatal === true;
    if (lost || READ_ONLY_ERRNOS.has(seen.errno ?? 0)) state.doomed = true;
    // "closed state": mysql2 refused to send anything, so nothing can have been applied.
    if (outcomeUnknownIfLost && lost && seen.name !== 'CONNECTION_CLOSED_STATE') {
      markOutcomeUnknown(error, connection.threadId);
    }
    // The breaker heard what the server did (above); the caller hears what it means for the write.
    const unknown = outcomeUnknownOf(error);
    const classified = unknown ? this.unknownOutcome(error, unknown.threadId) : seen;
    markDatabaseError(error, classified);
    if (!inUnit) this.recordOutsideUnit(error, classified, request);
  }

  /** What a failure whose write may or may not have been applied means: never a plain "connection lost". */
  private unknownOutcome(error: unknown, threadId: number | undefined): ClassifiedError {
    return this.classifier.classify(new CommitOutcomeUnknownError({ database: this.database, threadId, cause: error }));
  }

  private timed(
    sql: string,
    kind: StatementKind,
    durationMs: number,
    failed: boolean,
    request: RequestContext | undefined,
  ): void {
    if (this.events.wantsQueries) {
      this.events.emit({ type: 'query', at: Date.now(), database: this.database, kind, durationMs, failed });
    }
    if (durationMs < this.slowQueryMs) return;
    const at = Date.now();
    this.events.emit({
      type: 'slow-query',
      at,
      database: this.database,
      fingerprint: fingerprintSql(sql),
      durationMs,
      requestId: request?.requestId,
      route: request?.route,
    });
  }

  /**
   * Inside a unit of work the retry runner records what the caller finally gets; outside one (a plain
   * repository call, `DataSource.query`, TypeORM's own transaction) nobody would, so the guard does.
   */
  private recordOutsideUnit(error: unknown, classified: ClassifiedError, request: RequestContext | undefined): void {
    this.events.emit({
      type: 'attempt-failed',
      at: Date.now(),
      unitId: nextUnitId(),
      database: this.database,
      operation: undefined,
      requestId: request?.requestId,
      route: request?.route,
      attempt: 1,
      error: classified,
      willRetry: false,
    });
  }

  /** Tells the breaker how the server did: unwell (connection, overload...) or answering (even with an error). */
  private report(error: unknown) {
    const classified = this.classifier.classify(error);
    if (classified.serverUnwell) {
      this.breaker.failure();
      markCounted(error, this.breaker.name);
    } else if (classified.name !== 'CIRCUIT_OPEN') {
      this.breaker.success();
    }
    return classified;
  }

  /** The statement with a server-side limit a little before the deadline, so that the server's own error comes first. */
  private withServerDeadline(connection: Mysql2Connection, sql: string, kind: StatementKind, leftMs: number) {
    const remainingMs = Math.max(1, leftMs - Math.min(SERVER_MARGIN_MS, leftMs / 4));
    if (connection._isMariaDB) return `SET STATEMENT max_statement_time=${(remainingMs / 1000).toFixed(3)} FOR ${sql}`;
    if (kind === 'read' && /^\s*SELECT\b/i.test(sql)) {
      return sql.replace(/^\s*SELECT\b/i, `SELECT /*+ MAX_EXECUTION_TIME(${Math.ceil(remainingMs)}) */`);
    }
    return sql; // MySQL writes: the client-side timer and KILL QUERY stop them
  }

  /** A primary connection outside every breaker, for the health check (instrumented like any other). */
  obtainPrimary(): Promise<Mysql2Connection> {
    return housekeeping(() => this.acquired(this.obtainMaster));
  }

  /** The replica nodes (TypeORM replication), each with a way to borrow one of its connections. */
  replicaNodes(): Array<{ node: string; obtain: () => Promise<Mysql2Connection> }> {
    const cluster = (this.dataSource.driver as unknown as { poolCluster?: ReplicaNodes }).poolCluster;
    const slaves = (this.dataSource.driver as unknown as ReplicatedDriver).options.replication?.slaves ?? [];
    if (!cluster) return [];
    return slaves.map((_, index) => {
      const node = `SLAVE${index}`;
      const obtain: Obtain = (callback) => cluster.of(node).getConnection(callback);
      return { node, obtain: () => housekeeping(() => this.acquired(obtain)) };
    });
  }

  /** A `SELECT 1` on the primary outside every breaker and unit of work: is the server back? */
  probe(): Promise<boolean> {
    return housekeeping(async () => {
      let connection: Mysql2Connection | undefined;
      try {
        connection = await this.acquired(this.obtainMaster);
        const alive = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), this.options.validationTimeoutMs);
          connection!.query('SELECT 1', (error: unknown) => {
            clearTimeout(timer);
            resolve(!error);
          });
        });
        if (alive) connection.release();
        else connection.destroy();
        return alive;
      } catch {
        connection?.destroy();
        return false;
      }
    });
  }

  /** Stops a statement the client gave up on, from another connection, outside any unit of work. */
  /**
   * Stops a statement the client gave up on, from another connection, outside any unit of work and request:
   * housekeeping, bounded by `pool.validationTimeoutMs`, never recorded as the caller's error. A statement that
   * had already ended (1094 "Unknown thread id") is the usual, harmless outcome.
   */
  private killQuery(threadId: number | null): Promise<void> {
    if (threadId === null) return Promise.resolve();
    return housekeeping(async () => {
      let connection: Mysql2Connection | undefined;
      try {
        const borrowed = this.obtainUnguarded();
        const bound = this.options.validationTimeoutMs;
        connection = await withTimeout(borrowed, bound, (late) => late.release());
        if (connection === undefined) return; // no connection in time: the deadline's own error stands
        const raw = this.states.get(connection)?.rawQuery ?? connection.query;
        const stopped = await withTimeout(
          new Promise<boolean>((resolve) =>
            raw.call(connection, `KILL QUERY ${Number(threadId)}`, () => resolve(true)),
          ),
          bound,
        );
        if (stopped) connection.release();
        else connection.destroy(); // the server does not answer: this connection is as stuck as the other
      } catch {
        connection?.destroy();
      }
    });
  }
}
