import type { DataSource } from 'typeorm';
import type { ErrorClassifier } from '../../classification/error-classifier';
import type { CircuitBreaker } from '../../circuit-breaker/circuit-breaker';
import { requestContext, type RequestContext } from '../../context/request-context';
import { housekeeping, isHousekeeping, unitOfWork, type UnitOfWork } from '../../context/unit-of-work';
import { markDatabaseError } from '../../errors/database-error-marks';
import type { ResilienceEvents } from '../../events/resilience-events';
import type { GuardSettings } from '../database-engine';
import type { ConcurrencyLimitState } from '../pool-concurrency-limit';
import { newConnectionState, type ConnectionState } from './connection-state';
import type { Mysql2Connection, ObtainingDriver } from './mysql2-connection';
import { fromPool, PoolBorrow, type Deadline, type Obtain, type PooledDriver } from './pool-borrow';
import { ReplicaRouting, type ReplicaCluster, type ReplicatedDriver } from './replica-routing';
import { StatementKiller } from './statement-deadline';
import { StatementGuard } from './statement-guard';
import { StatementReporter } from '../statement-reporter';
import { Watchdog } from '../watchdog';
import { PoolConcurrencyLimit } from '../pool-concurrency-limit';
import { primaryPoolSize } from './pool-figures';
import { ResilienceLogger } from '../../events/resilience-logger';

/** mysql2's connectionLimit when TypeORM's options set none. */
const DEFAULT_POOL_SIZE = 10;
/** How late the default bounds (pool wait, `queries.timeoutMs`) may fire. */
const WATCHDOG_TICK_MS = 100;
const GUARDED = Symbol('database-resilience.guarded');

/**
 * The one place between TypeORM and mysql2's pool for a DataSource: installed on the driver
 * (`obtainMasterConnection` / `obtainSlaveConnection`), it wraps each connection's `query` and `release` and puts
 * together the parts that do the work — PoolBorrow (the pool wait bounded, idle connections pinged),
 * connection-state (each connection's side of a transaction, outcome-unknown marks, doomed connections),
 * statement-deadline (the caller's deadline on every statement: a server-side limit, a client timer, KILL QUERY),
 * ReplicaRouting (reads to replicas while they work) and StatementReporter (timing, the breaker, each failure
 * recorded once). This file is the statement path; it runs for every statement, so it stays on callbacks.
 */
export class ConnectionGuard {
  private readonly logger = new ResilienceLogger();
  private readonly states = new WeakMap<Mysql2Connection, ConnectionState>();
  private readonly watchdog = new Watchdog(WATCHDOG_TICK_MS);
  private readonly pool: PoolBorrow;
  private readonly reporter: StatementReporter;
  private readonly replicas: ReplicaRouting;
  private readonly statements: StatementGuard;
  private killer?: StatementKiller;
  private obtainMaster!: Obtain;
  /** In front of the primary's pool (`concurrencyLimit`), made at the first borrow, when the pool's size is known. */
  private limit?: PoolConcurrencyLimit;

  constructor(
    private readonly dataSource: DataSource,
    private readonly database: string,
    private readonly settings: GuardSettings,
    private readonly classifier: ErrorClassifier,
    private readonly breaker: CircuitBreaker,
    events: ResilienceEvents,
  ) {
    this.pool = new PoolBorrow(settings.pool, database, this.watchdog);
    this.reporter = new StatementReporter(database, classifier, breaker, events, settings.slowQueryMs);
    this.replicas = new ReplicaRouting(database, settings.replicaRetryMs, this.pool, classifier, this.logger);
    this.statements = new StatementGuard(
      database,
      settings.statementTimeoutMs,
      this.watchdog,
      this.reporter,
      classifier,
      (threadId) => void this.killer?.kill(threadId),
    );
  }

  install(): void {
    const driver = this.dataSource.driver as unknown as ObtainingDriver & PooledDriver & { [GUARDED]?: boolean };
    if (typeof driver.obtainMasterConnection !== 'function') {
      this.logger.warn(`DataSource "${this.database}" is not a MySQL/MariaDB DataSource; it is not guarded`, {
        event: 'data-source-not-guarded',
        database: this.database,
      });
      return;
    }
    if (driver[GUARDED]) return;
    driver[GUARDED] = true;
    const master = driver.obtainMasterConnection.bind(driver);
    const slave = driver.obtainSlaveConnection.bind(driver);
    // KILL QUERY borrows past the guard (an open breaker must not stop it) and sends past it.
    this.killer = new StatementKiller(
      master,
      (connection) => this.states.get(connection)?.rawQuery ?? connection.query,
      this.settings.pool.validationTimeoutMs,
    );
    this.obtainMaster = fromPool(driver, 'MASTER', master);
    driver.obtainMasterConnection = () => this.borrow(this.obtainMaster);
    const cluster = driver.poolCluster as ReplicaCluster | undefined;
    if (!cluster) return; // no replication: reads borrow from the primary through the wrapped master
    const obtainReplica = fromPool(driver, 'SLAVE*', slave);
    driver.obtainSlaveConnection = () =>
      this.replicas.borrow(
        obtainReplica,
        (connection) => this.instrument(connection, 'replica'),
        () => this.borrow(this.obtainMaster),
      );
    this.replicas.putBackRemoved(driver as unknown as ReplicatedDriver, cluster);
  }

  /** Stops the watchdog (the module is closing). */
  dispose(): void {
    this.watchdog.stop();
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
    const limit = isHousekeeping(unit) ? undefined : this.concurrencyLimit();
    if (limit === undefined) return this.lend(obtain, unit, request, deadline, undefined);
    // Past the limit: wait for it, or be shed as overload (not recorded as the server's error).
    const admitted = limit.admission(deadline);
    if (typeof admitted === 'number') return this.lend(obtain, unit, request, deadline, admitted);
    return admitted.then((ticket) => this.lend(obtain, unit, request, deadline, ticket));
  }

  /** Takes the connection from the pool, pinging one idle too long; `limitTicket`: the limit's, given back at release. */
  private lend(
    obtain: Obtain,
    unit: UnitOfWork | undefined,
    request: RequestContext | undefined,
    deadline: Deadline | undefined,
    limitTicket: number | undefined,
  ): Promise<Mysql2Connection> {
    return new Promise((resolve, reject) => {
      const lend = (tries: number) =>
        this.pool.acquire(obtain, deadline, (error, connection) => {
          // Called back from mysql2's pool: whatever goes wrong here must reach the caller, not the process.
          try {
            if (error !== undefined) {
              if (limitTicket !== undefined) this.limit!.leave(limitTicket, false);
              const classified = this.reporter.report(error);
              markDatabaseError(error, classified);
              if (!unit) this.reporter.recordOutsideUnit(classified, request);
              return reject(error);
            }
            const state = this.instrument(connection!, 'primary');
            if (tries > 20 || !this.pool.idleTooLong(connection!)) {
              state.limitTicket = limitTicket; // given back to the limit on release
              return resolve(connection!);
            }
            this.pool.ping(connection!, deadline, (alive) => {
              if (!alive) {
                connection!.destroy(); // dead while idle (server restarted, network dropped): the pool makes a new one
                return lend(tries + 1);
              }
              state.limitTicket = limitTicket;
              resolve(connection!);
            });
          } catch (unexpected) {
            if (limitTicket !== undefined) this.limit!.leave(limitTicket, false);
            reject(unexpected);
          }
        });
      lend(1);
    });
  }

  /** The limit in front of the primary's pool, or undefined while `concurrencyLimit` is off. */
  private concurrencyLimit(): PoolConcurrencyLimit | undefined {
    if (this.limit || !this.settings.concurrencyLimit.enabled) return this.limit;
    const poolSize = primaryPoolSize(this.dataSource.driver) ?? DEFAULT_POOL_SIZE;
    return (this.limit = new PoolConcurrencyLimit(this.settings.concurrencyLimit, this.database, poolSize));
  }

  /** The limit in front of the primary's pool now; undefined while off or before the first borrow. */
  concurrencyLimitState(): ConcurrencyLimitState | undefined {
    return this.limit?.state();
  }

  private instrument(connection: Mysql2Connection, role: ConnectionState['role']): ConnectionState {
    const known = this.states.get(connection);
    if (known) return known;
    const state: ConnectionState = newConnectionState(role, connection.query, () =>
      this.statements.expireRunning(connection, state),
    );
    this.states.set(connection, state);
    const query = connection.query;
    const release = connection.release;
    connection.query = (...args: unknown[]) => this.statements.run(connection, state, query, args);
    connection.release = () => {
      if (state.limitTicket !== undefined) {
        const limitTicket = state.limitTicket;
        state.limitTicket = undefined;
        this.limit!.leave(limitTicket, true);
      }
      return state.doomed ? connection.destroy() : release.call(connection);
    };
    return state;
  }

  /** A primary connection outside every breaker, for the health check (instrumented like any other). */
  obtainPrimary(): Promise<Mysql2Connection> {
    return housekeeping(() => this.pool.acquired(this.obtainMaster));
  }

  /** The replica nodes (TypeORM replication), each with a way to borrow one of its connections. */
  replicaNodes(): Array<{ node: string; obtain: () => Promise<Mysql2Connection> }> {
    return this.replicas.nodes(this.dataSource);
  }

  /** A `SELECT 1` on the primary outside every breaker and unit of work: is the server back? */
  probe(): Promise<boolean> {
    return housekeeping(async () => {
      let connection: Mysql2Connection | undefined;
      try {
        connection = await this.pool.acquired(this.obtainMaster);
        const alive = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), this.settings.pool.validationTimeoutMs);
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
}
