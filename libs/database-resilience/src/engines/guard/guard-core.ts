import type { ErrorClassifier } from '../../classification/error-classifier';
import type { CircuitBreaker } from '../../circuit-breaker/circuit-breaker';
import { requestContext, type RequestContext } from '../../context/request-context';
import { isHousekeeping, unitOfWork, type UnitOfWork } from '../../context/unit-of-work';
import { markDatabaseError } from '../../errors/database-error-marks';
import type { ResilienceEvents } from '../../events/resilience-events';
import { ResilienceLogger } from '../../events/resilience-logger';
import type { GuardSettings } from '../database-engine';
import { PoolConcurrencyLimit, type ConcurrencyLimitState } from '../pool-concurrency-limit';
import { poolWait } from '../pool-wait';
import { StatementReporter } from '../statement-reporter';
import { preciseWatch, Watchdog, type Watch } from '../watchdog';
import { newConnectionState, type ConnectionRole, type ConnectionState } from './connection-state';
import type { DriverAdapter, GuardedConnection, StatementRunner } from './driver-adapter';
import { Housekeeping } from './housekeeping';
import { ReplicaLag } from './replica-lag';
import { ReplicaRouting } from './replica-routing';
import { StatementLifecycle } from './statement-lifecycle';
import { WriterFailover } from './writer-failover';

/** A pool's size when the driver's options set none (mysql2's and pg-pool's default). */
const DEFAULT_POOL_SIZE = 10;
/** How late the default bounds (pool wait, `queries.timeoutMs`) may fire. */
const WATCHDOG_TICK_MS = 100;
/** A lend gives up validating idle connections after this many dead ones in a row (and lends the next). */
const MAX_VALIDATIONS = 20;

type Deadline = NonNullable<UnitOfWork['deadline']>;

/**
 * The guard of one DataSource, for every engine, over the engine's DriverAdapter: borrowing (the breaker's
 * admission, the concurrency limit, the pool wait bounded, idle connections validated), every statement through
 * StatementLifecycle, connections that must not be reused destroyed on release, reads to replicas while they
 * answer and to the primary otherwise, and the module's own statements (Housekeeping). Borrowing runs for every
 * statement outside a transaction, so it stays on callbacks: each promise or await it adds is time on every
 * request.
 */
export class GuardCore<C extends GuardedConnection, P> implements StatementRunner<C> {
  private readonly logger = new ResilienceLogger();
  private readonly states = new WeakMap<C, ConnectionState>();
  private readonly watchdog = new Watchdog(WATCHDOG_TICK_MS);
  private readonly reporter: StatementReporter;
  private readonly statements: StatementLifecycle<C>;
  private readonly replicas: ReplicaRouting<P>;
  /** The writer's connections by generation, and failovers. */
  readonly failover: WriterFailover;
  /** The replicas' lag, for the routing and the health check. */
  readonly lag: ReplicaLag<C, P>;
  /** Statements of the module's own, past every breaker and unit of work. */
  readonly housekeeping: Housekeeping<C, P>;
  /** In front of the primary's pool (`concurrencyLimit`), made at the first borrow, when the pool's size is known. */
  private limit?: PoolConcurrencyLimit;
  /** Whether the core stamps each release (idle connections are validated, and the driver stamps none). */
  private readonly stampsRelease: boolean;

  constructor(
    readonly database: string,
    private readonly settings: GuardSettings,
    private readonly adapter: DriverAdapter<C, P>,
    classifier: ErrorClassifier,
    private readonly breaker: CircuitBreaker,
    events: ResilienceEvents,
  ) {
    this.reporter = new StatementReporter(database, classifier, breaker, events, settings.slowQueryMs);
    this.housekeeping = new Housekeeping(
      database,
      adapter,
      classifier,
      settings.pool.validationTimeoutMs,
      (c) => this.states.get(c),
      (c, pool) => this.usableForHousekeeping(c, pool),
    );
    this.failover = new WriterFailover(database, events, () => this.housekeeping.serverName());
    this.statements = new StatementLifecycle(
      database,
      settings.statementTimeoutMs,
      this.watchdog,
      this.reporter,
      adapter,
      (sessionId) => this.housekeeping.stopStatement(sessionId),
      this.failover,
    );
    this.replicas = new ReplicaRouting(database, settings.replicaRetryMs, settings.maxLagMs, this.logger);
    this.lag = new ReplicaLag(adapter, this.replicas, this.housekeeping, settings);
    this.stampsRelease = settings.pool.validateAfterIdleMs !== null && adapter.idleSince === undefined;
  }

  /** Stops the watchdog and the lag check (the module is closing). */
  dispose(): void {
    this.watchdog.stop();
    this.lag.dispose();
  }

  /** A primary connection for TypeORM: admitted by the breaker and the limit, bounded, validated, instrumented. */
  borrowPrimary(): Promise<C> {
    try {
      this.breaker.admit(); // open: rejected here, before any I/O
    } catch (error) {
      return Promise.reject(error);
    }
    // The pool calls back in its own async context: what the caller belongs to is read here.
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    const deadline = unit?.deadline ?? request?.deadline;
    const limit = isHousekeeping(unit) ? undefined : this.concurrencyLimit();
    if (limit === undefined) return this.lend(unit, request, deadline, undefined);
    // Past the limit: wait for it, or be shed as overload (not recorded as the server's error).
    const admitted = limit.admission(deadline);
    if (typeof admitted === 'number') return this.lend(unit, request, deadline, admitted);
    return admitted.then((ticket) => this.lend(unit, request, deadline, ticket));
  }

  /**
   * A replica connection for a read, or the primary's while no replica answers (whatever its breaker says), none
   * is close enough behind, or the request wrote within `failover.readYourWritesMs` (it reads its own writes).
   */
  async borrowReplica(): Promise<C> {
    const wroteAt = requestContext.getStore()?.wroteAt;
    if (wroteAt !== undefined && Date.now() - wroteAt < this.settings.readYourWritesMs) return this.borrowPrimary();
    const replica = this.replicas.pick(this.adapter.replicaPools());
    if (replica === undefined) return this.borrowPrimary();
    const { node, pool } = replica;
    const deadline = unitOfWork.getStore()?.deadline ?? requestContext.getStore()?.deadline;
    try {
      const connection = await new Promise<C>((resolve, reject) =>
        this.acquire(pool, deadline, (error, obtained) => (error === undefined ? resolve(obtained!) : reject(error))),
      );
      const state = this.instrument(connection, 'replica');
      state.onLost ??= () => this.replicas.down(pool, node);
      const alive =
        !this.mustValidate(connection, state) ||
        (await new Promise<boolean>((resolve) => this.validate(connection, state, deadline, resolve)));
      if (alive) {
        this.replicas.served(pool);
        return connection;
      }
      this.giveBack(connection, true);
    } catch {
      // refused, or no answer in time: read from the primary meanwhile
    }
    this.replicas.down(pool, node);
    return this.borrowPrimary();
  }

  /** Takes the connection from the pool, validating one idle too long; `ticket`: the limit's, given back at release. */
  private lend(
    unit: UnitOfWork | undefined,
    request: RequestContext | undefined,
    deadline: Deadline | undefined,
    ticket: number | undefined,
  ): Promise<C> {
    return new Promise((resolve, reject) => {
      const pool = this.adapter.primaryPool();
      if (pool === undefined) {
        if (ticket !== undefined) this.limit!.leave(ticket, false);
        return reject(new Error(`DataSource "${this.database}" is not connected`));
      }
      const lend = (tries: number) =>
        this.acquire(pool, deadline, (error, connection) => {
          // Called back from the driver's pool: whatever goes wrong here must reach the caller, not the process.
          try {
            if (error !== undefined) {
              if (ticket !== undefined) this.limit!.leave(ticket, false);
              const classified = this.reporter.report(error);
              markDatabaseError(error, classified);
              if (!unit) this.reporter.recordOutsideUnit(classified, request);
              return reject(error);
            }
            const state = this.instrument(connection!, 'primary');
            // Opened before a writer failover: destroyed without a round trip, and the next one taken.
            if (this.evictedIfStale(connection!)) return lend(tries);
            if (tries > MAX_VALIDATIONS || !this.mustValidate(connection!, state)) {
              state.limitTicket = ticket; // given back to the limit on release
              return resolve(connection!);
            }
            this.validate(connection!, state, deadline, (alive) => {
              if (!alive) {
                this.giveBack(connection!, true); // dead while idle (server restarted, network dropped)
                return lend(tries + 1);
              }
              state.limitTicket = ticket;
              resolve(connection!);
            });
          } catch (unexpected) {
            if (ticket !== undefined) this.limit!.leave(ticket, false);
            reject(unexpected);
          }
        });
      lend(1);
    });
  }

  /**
   * Takes a connection; `callback` is called once. The wait (the pools' own is unbounded or long) is at most
   * `pool.acquireTimeoutMs` and never past the caller's deadline; a connection that comes later goes back.
   */
  private acquire(pool: P, deadline: Deadline | undefined, callback: (error: unknown, connection?: C) => void) {
    if (deadline === undefined && this.adapter.hasIdle?.(pool)) return this.adapter.acquire(pool, callback);
    const now = Date.now();
    const { waitMs, timeoutError } = poolWait(this.database, this.settings.pool.acquireTimeoutMs, deadline, now);
    let settled = false;
    const expire = () => {
      settled = true;
      callback(timeoutError());
    };
    // A caller's own deadline gets a precise timer; the module's default bound the coarse watchdog.
    const watch: Watch =
      deadline !== undefined ? preciseWatch(now + waitMs, expire) : this.watchdog.watch(now + waitMs, expire);
    this.adapter.acquire(pool, (error, connection) => {
      if (settled) return connection === undefined ? undefined : this.adapter.release(connection); // too late
      settled = true;
      watch.cancel();
      callback(error ?? undefined, connection);
    });
  }

  /** Whether a connection must answer before it is lent: doomed, or idle `pool.validateAfterIdleMs` (0: always). */
  private mustValidate(connection: C, state: ConnectionState): boolean {
    if (state.doomed) return true;
    const idleLimit = this.settings.pool.validateAfterIdleMs;
    if (idleLimit === null) return false;
    return Date.now() - (this.adapter.idleSince?.(connection) ?? state.releasedAt) >= idleLimit;
  }

  /** Calls back whether the connection answers (a doomed one never is lent), within the validation timeout. */
  private validate(
    connection: C,
    state: ConnectionState,
    deadline: Deadline | undefined,
    alive: (yes: boolean) => void,
  ): void {
    if (state.doomed) return alive(false);
    const leftMs = deadline === undefined ? Infinity : deadline.at - Date.now();
    this.housekeeping.ping(connection, Math.min(this.settings.pool.validationTimeoutMs, leftMs), alive);
  }

  /** The limit in front of the primary's pool, or undefined while `concurrencyLimit` is off. */
  private concurrencyLimit(): PoolConcurrencyLimit | undefined {
    if (this.limit || !this.settings.concurrencyLimit.enabled) return this.limit;
    const poolSize = this.adapter.primaryPoolSize() ?? DEFAULT_POOL_SIZE;
    return (this.limit = new PoolConcurrencyLimit(this.settings.concurrencyLimit, this.database, poolSize));
  }

  /** The limit in front of the primary's pool now; undefined while off or before the first borrow. */
  concurrencyLimitState(): ConcurrencyLimitState | undefined {
    return this.limit?.state();
  }

  /** The state of a connection met for the first time, with the adapter's wrappers put on it. */
  private instrument(connection: C, role: ConnectionRole): ConnectionState {
    const known = this.states.get(connection);
    if (known) return known;
    const state = newConnectionState(role, connection.query, () => this.statements.expireRunning(connection, state));
    if (role === 'primary') state.generation = this.failover.generation;
    this.states.set(connection, state);
    this.adapter.instrument(connection, state, this);
    return state;
  }

  run(connection: C, state: ConnectionState, sql: string, args: unknown[]): unknown {
    return this.statements.run(connection, state, sql, args);
  }

  giveBack(connection: C, destroy?: boolean): void {
    const state = this.states.get(connection);
    if (state === undefined) return this.adapter.release(connection);
    if (state.limitTicket !== undefined) {
      const ticket = state.limitTicket;
      state.limitTicket = undefined; // once, however often it is released
      this.limit!.leave(ticket, true);
    }
    // Never pooled inside a transaction: the next borrower's COMMIT would commit what this one left.
    if (destroy || state.inTransaction) state.doomed = true;
    else this.failover.evictIfStale(state);
    if (state.doomed) return this.adapter.discard(connection);
    if (this.stampsRelease) state.releasedAt = Date.now();
    this.adapter.release(connection);
  }

  /** Destroys a primary connection opened before the last writer failover; whether it did. */
  private evictedIfStale(connection: C): boolean {
    const state = this.states.get(connection);
    if (state === undefined || !this.failover.evictIfStale(state)) return false;
    this.giveBack(connection, true);
    return true;
  }

  /** The module's own statements never run on a stale primary connection (a probe must not reach an old writer). */
  private usableForHousekeeping(connection: C, pool: P): boolean {
    if (pool !== this.adapter.primaryPool()) return true;
    this.instrument(connection, 'primary'); // its generation is known from its first use, whoever uses it
    return !this.evictedIfStale(connection);
  }

  failed(error: unknown): void {
    this.statements.failWith(error, unitOfWork.getStore() !== undefined);
  }
}
