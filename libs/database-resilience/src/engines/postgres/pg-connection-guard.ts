import type { DataSource } from 'typeorm';
import type { ErrorClassifier } from '../../classification/error-classifier';
import type { CircuitBreaker } from '../../circuit-breaker/circuit-breaker';
import { requestContext } from '../../context/request-context';
import { housekeeping, isHousekeeping, unitOfWork } from '../../context/unit-of-work';
import { withTimeout } from '../../context/with-timeout';
import { markDatabaseError } from '../../errors/database-error-marks';
import { poolWait } from '../pool-wait';
import { PoolConcurrencyLimit, type ConcurrencyLimitState } from '../pool-concurrency-limit';
import type { ResilienceEvents } from '../../events/resilience-events';
import { ResilienceLogger } from '../../events/resilience-logger';
import { CheckTimeoutError } from '../check-timeout.error';
import { StatementReporter } from '../statement-reporter';
import type { GuardSettings } from '../database-engine';
import type { PgClient, PgDriver, PgPool, PgRelease } from './pg-client';
import { PgDeadlocks } from './pg-deadlocks';
import { closeClient, newPgClientState, PgStatementGuard, type PgClientState } from './pg-statement-guard';

const GUARDED = Symbol('database-resilience.guarded');
/** pg-pool's `max` when TypeORM's options set none. */
const DEFAULT_POOL_SIZE = 10;
type Lent = [PgClient, PgRelease];

/**
 * The one place between TypeORM and pg's pools for a PostgreSQL DataSource: installed on the driver
 * (`obtainMasterConnection` / `obtainSlaveConnection`). Borrowing is admitted by the breaker and bounded (the pool
 * wait by `pool.acquireTimeoutMs` and the caller's deadline), a client idle for `pool.validateAfterIdleMs` is
 * checked with `SELECT 1` first (pg-pool hands out clients whose backend was just terminated), every client's
 * `query` goes through PgStatementGuard, and a client the guard doomed is destroyed, never pooled. Reads go to
 * a replica while one answers and fall back to the primary (TypeORM's own replication never does).
 */
export class PgConnectionGuard {
  private readonly logger = new ResilienceLogger();
  private readonly states = new WeakMap<PgClient, PgClientState>();
  private readonly reporter: StatementReporter;
  private readonly statements: PgStatementGuard;
  private readonly replicaDownUntil = new Map<PgPool, number>();
  /** Replicas whose outage was said (again once they served a read). */
  private readonly replicaWarned = new Set<PgPool>();
  /** The latest deadlock's account, put together when its victim's error arrives. */
  readonly deadlocks: PgDeadlocks;
  private driver?: PgDriver;
  /** In front of the primary's pool (`concurrencyLimit`), made at the first borrow, when the pool's size is known. */
  private limit?: PoolConcurrencyLimit;

  constructor(
    private readonly dataSource: DataSource,
    private readonly database: string,
    private readonly settings: GuardSettings,
    classifier: ErrorClassifier,
    private readonly breaker: CircuitBreaker,
    events: ResilienceEvents,
    /** How often the other sessions of a deadlock are read (`deadlocks.innodbStatusMinIntervalMs`); null: never. */
    deadlockMinIntervalMs: number | null,
  ) {
    this.reporter = new StatementReporter(database, classifier, breaker, events, settings.slowQueryMs);
    this.deadlocks = new PgDeadlocks(
      (sql, parameters) => this.housekeepingQuery(sql, parameters),
      deadlockMinIntervalMs ?? Infinity,
    );
    this.statements = new PgStatementGuard(
      database,
      settings.statementTimeoutMs,
      this.reporter,
      (pid) => void this.terminate(pid),
      (error, sql, pid) => {
        if (deadlockMinIntervalMs !== null) this.deadlocks.capture(error, sql, pid);
      },
    );
  }

  install(): void {
    const driver = this.dataSource.driver as unknown as PgDriver & { [GUARDED]?: boolean };
    if (typeof driver.obtainMasterConnection !== 'function' || !Array.isArray(driver.slaves)) {
      this.logger.warn(
        `DataSource "${this.database}" is not built as a TypeORM postgres DataSource; it is not guarded`,
        {
          event: 'data-source-not-guarded',
          database: this.database,
        },
      );
      return;
    }
    if (driver[GUARDED]) return;
    driver[GUARDED] = true;
    this.driver = driver;
    driver.obtainMasterConnection = () => this.borrowPrimary();
    driver.obtainSlaveConnection = () => (driver.slaves.length === 0 ? this.borrowPrimary() : this.borrowReplica());
  }

  dispose(): void {}

  /** A primary client for TypeORM: admitted by the breaker, bounded, validated, instrumented. */
  private async borrowPrimary(): Promise<Lent> {
    this.breaker.admit(); // open: rejected here, before any I/O
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    const deadline = unit?.deadline ?? request?.deadline;
    const limit = isHousekeeping(unit) ? undefined : this.concurrencyLimit();
    const limitTicket = limit ? await limit.admission(deadline) : 0; // past it: waits, or is shed as overload
    for (let tries = 1; ; tries++) {
      let lent: Lent;
      try {
        lent = await this.acquire(this.primaryPool(), deadline);
      } catch (error) {
        limit?.leave(limitTicket, false);
        const classified = this.reporter.report(error);
        markDatabaseError(error, classified);
        if (!unit) this.reporter.recordOutsideUnit(classified, request);
        throw error;
      }
      const wrapped = this.instrument(lent, 'primary');
      if (tries > 20 || (await this.alive(wrapped[0]))) {
        if (!limit) return wrapped;
        const [client, release] = wrapped;
        let given = false;
        return [
          client,
          (destroy) => {
            if (!given) limit.leave(limitTicket, true); // once, however often TypeORM releases
            given = true;
            release(destroy);
          },
        ];
      }
      wrapped[1](true); // dead while idle (server restarted, backend terminated): the pool makes a new one
    }
  }

  /** The limit in front of the primary's pool, or undefined while `concurrencyLimit` is off. */
  private concurrencyLimit(): PoolConcurrencyLimit | undefined {
    if (this.limit || !this.settings.concurrencyLimit.enabled) return this.limit;
    const poolSize = this.driver?.master?.options?.max ?? DEFAULT_POOL_SIZE;
    return (this.limit = new PoolConcurrencyLimit(this.settings.concurrencyLimit, this.database, poolSize));
  }

  /** The limit in front of the primary's pool now; undefined while off or before the first borrow. */
  concurrencyLimitState(): ConcurrencyLimitState | undefined {
    return this.limit?.state();
  }

  /** A replica client; on failure the replica rests `failover.replicaRetryMs` and reads go to the primary. */
  private async borrowReplica(): Promise<Lent> {
    const now = Date.now();
    const candidates = this.driver!.slaves.filter((pool) => (this.replicaDownUntil.get(pool) ?? 0) <= now);
    const pool = candidates[Math.floor(Math.random() * candidates.length)];
    if (pool === undefined) return this.borrowPrimary();
    try {
      const lent = this.instrument(
        await this.acquire(pool, undefined, this.settings.pool.validationTimeoutMs),
        'replica',
        () => this.replicaDown(pool),
      );
      if (await this.alive(lent[0])) {
        this.replicaWarned.delete(pool); // serving again: its next outage is said again
        return lent;
      }
      lent[1](true);
    } catch {
      // refused, or no answer in time: read from the primary meanwhile
    }
    this.replicaDown(pool);
    return this.borrowPrimary();
  }

  /** A replica failed: reads go to the primary for `failover.replicaRetryMs`; said once per outage. */
  private replicaDown(pool: PgPool): void {
    const wasUp = (this.replicaDownUntil.get(pool) ?? 0) <= Date.now();
    this.replicaDownUntil.set(pool, Date.now() + this.settings.replicaRetryMs);
    if (!wasUp || this.replicaWarned.has(pool)) return;
    this.replicaWarned.add(pool);
    this.logger.warn(`A replica of database "${this.database}" does not answer: reads go to the primary`, {
      event: 'replica-unavailable',
      database: this.database,
    });
  }

  /** Takes a client from `pool`, waiting at most `pool.acquireTimeoutMs` and never past the deadline. */
  private acquire(pool: PgPool, deadline: { at: number; ms: number } | undefined, boundMs?: number): Promise<Lent> {
    const { waitMs, timeoutError } = poolWait(this.database, boundMs ?? this.settings.pool.acquireTimeoutMs, deadline);
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(timeoutError());
      }, waitMs);
      pool.connect((error, client, release) => {
        if (settled) return error ? undefined : release?.(); // came too late: back to the pool
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve([client!, release!]);
      });
    });
  }

  /** Puts the statement guard on a client (once) and wraps its release: a doomed client is destroyed. */
  private instrument([client, release]: Lent, role: PgClientState['role'], onLost?: () => void): Lent {
    let state = this.states.get(client);
    if (!state) {
      const created = newPgClientState(role, client.query);
      created.onLost = onLost;
      state = created;
      this.states.set(client, created);
      client.query = (...args: unknown[]) => this.statements.run(client, created, args);
      client.on('error', () => undefined); // its failures reach the statement that meets them
    }
    const used = state;
    const guardedRelease: PgRelease = (destroy) => {
      used.releasedAt = Date.now();
      if (used.inTransaction) used.doomed = true; // never pooled inside a transaction a later COMMIT would commit
      release(destroy ?? (used.doomed ? true : undefined));
    };
    return [client, guardedRelease];
  }

  /** Alive, or not idle long enough (`pool.validateAfterIdleMs`) to ask. */
  private async alive(client: PgClient): Promise<boolean> {
    const state = this.states.get(client)!;
    const idleLimit = this.settings.pool.validateAfterIdleMs;
    if (state.doomed) return false;
    if (idleLimit === null || Date.now() - state.releasedAt < idleLimit) return true;
    const answered = await withTimeout(
      (state.rawQuery.call(client, 'SELECT 1') as Promise<unknown>).then(
        () => true,
        () => false,
      ),
      this.settings.pool.validationTimeoutMs,
    );
    if (answered !== true) closeClient(client);
    return answered === true;
  }

  private primaryPool(): PgPool {
    const pool = this.driver?.master;
    if (!pool) throw new Error(`DataSource "${this.database}" is not connected`);
    return pool;
  }

  /**
   * Ends a session the client gave up on (a statement past its deadline, pg's query_timeout), from another
   * connection and outside every breaker: on a hung server this waits too, bounded, and is never waited for.
   */
  private terminate(pid: number | undefined): Promise<void> {
    if (pid === undefined || !this.driver?.master) return Promise.resolve();
    return this.housekeepingQuery('SELECT pg_terminate_backend($1)', [pid]).then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * One statement on a raw client of `pool` (the primary by default), outside every breaker and unit of work,
   * bounded by `boundMs` (default `pool.validationTimeoutMs`) for the borrow and again for the answer.
   */
  housekeepingQuery(
    sql: string,
    parameters?: unknown[],
    { pool, boundMs }: { pool?: PgPool; boundMs?: number } = {},
  ): Promise<Array<Record<string, unknown>>> {
    return housekeeping(async () => {
      const bound = boundMs ?? this.settings.pool.validationTimeoutMs;
      const [client, release] = await this.acquire(pool ?? this.primaryPool(), undefined, bound);
      const raw = this.states.get(client)?.rawQuery ?? client.query;
      let answered = false;
      try {
        const sending = raw.call(client, sql, parameters) as Promise<{ rows: Array<Record<string, unknown>> }>;
        const result = await withTimeout(sending, bound);
        if (result === undefined) throw new CheckTimeoutError(bound);
        answered = true;
        return result.rows;
      } finally {
        if (answered) release();
        else {
          closeClient(client); // a hung server would hold it for ever
          release(true);
        }
      }
    });
  }

  /** A `SELECT 1` on the primary outside every breaker and unit of work: is the server back? */
  async probe(): Promise<boolean> {
    try {
      await this.housekeepingQuery('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** The replica pools (TypeORM replication), each named as the health check reports it. */
  replicaPools(): Array<{ node: string; pool: PgPool }> {
    return (this.driver?.slaves ?? []).map((pool, index) => ({ node: `replica-${index + 1}`, pool }));
  }
}
