import type { ErrorClassifier } from '../../classification/error-classifier';
import { housekeeping } from '../../context/unit-of-work';
import { CheckTimeoutError } from '../check-timeout.error';
import { boundFor, bounded, type Bound } from './bound';
import type { ClusterNodeState, ReplicaCheck, ServerCheck } from '../database-engine';
import type { ConnectionState } from './connection-state';
import type { DriverAdapter, DriverCallback, GuardedConnection } from './driver-adapter';
import type { LagReading } from './replica-routing';
import type { ServerSession } from './server-sessions';

type Rows = Array<Record<string, unknown>>;

/** How many connections of its own a statement for one server opens, at most, until one reaches it. */
const SERVER_TRIES = 16;

/** A statement on the connection `onServer` found. */
export type ServerStatement = (sql: string, parameters?: unknown[]) => Promise<Rows>;

/**
 * The module's own statements, for every engine: probes, health checks, stopping a statement the client gave up
 * on, the engines' reads of the server's reports. Each goes past every breaker and unit of work on a connection
 * of its own, through the driver's own `query` (unbounded and unrecorded by the guard), and is bounded as a
 * whole: a connection that answers late, or not at all, is closed, never pooled again — a hung server must not
 * leave hung connections behind.
 */
export class Housekeeping<C extends GuardedConnection, P> {
  /** Pools whose server said it is no Galera node: not asked again. */
  private readonly notClustered = new Set<P>();

  constructor(
    private readonly database: string,
    private readonly adapter: DriverAdapter<C, P>,
    private readonly classifier: ErrorClassifier,
    /** `pool.validationTimeoutMs`: the default bound. */
    private readonly boundMs: number,
    private readonly stateOf: (connection: C) => ConnectionState | undefined,
    /** Whether a connection of `pool` may be used (a stale writer's is destroyed by it, and another taken). */
    private readonly usable: (connection: C, pool: P) => boolean,
  ) {}

  /** One statement on a connection of `pool` (the primary by default), within `boundMs` in all. */
  query(sql: string, parameters?: unknown[], { pool, boundMs }: { pool?: P; boundMs?: number } = {}): Promise<Rows> {
    return housekeeping(async () => {
      const target = pool ?? this.adapter.primaryPool();
      if (target === undefined) throw new Error(`DataSource "${this.database}" is not connected`);
      const bound = boundFor(boundMs ?? this.boundMs);
      const connection = await this.borrow(target, bound);
      return this.giveBackAfter(connection, this.within(connection, sql, parameters, bound));
    });
  }

  /**
   * `work` on one connection to `server` (a server's name for itself), within `boundMs` in all. Behind a balancing
   * endpoint (HAProxy round robin, a multi-primary cluster, a writer switched by DNS or a proxy) the pool's
   * connections reach several servers, and a session id names a different session on each: a pooled connection is
   * used if it reaches `server`, else connections of the module's own are opened outside the pool (a balancer sends
   * each to the next server), {@link SERVER_TRIES} at most, and closed after. Rejects if none reaches it.
   */
  onServer<T>(server: string, work: (run: ServerStatement) => Promise<T>, boundMs = this.boundMs): Promise<T> {
    return housekeeping(async () => {
      const pool = this.adapter.primaryPool();
      if (pool === undefined) throw new Error(`DataSource "${this.database}" is not connected`);
      const bound = boundFor(boundMs);
      // A pooled connection only if one is idle: a busy pool must not hold the statement up.
      const lent = this.adapter.hasIdle?.(pool) === false ? undefined : await this.borrow(pool, bound);
      if (lent !== undefined && this.adapter.session(lent)?.server !== server) this.adapter.release(lent);
      else if (lent !== undefined) {
        let fine = true; // pooled again unless a statement lost it or was answered late
        const run: ServerStatement = (sql, parameters) =>
          this.within(lent, sql, parameters, bound).catch((error: unknown) => {
            fine &&= this.answered(error);
            throw error;
          });
        try {
          return await work(run);
        } catch (error) {
          // Lost while it lay idle (its server restarted, say): the work again on a connection of its own.
          if (fine || error instanceof CheckTimeoutError) throw error;
        } finally {
          if (fine) this.adapter.release(lent);
          else this.discard(lent);
        }
      }
      const own = await this.openTo(server, pool, bound);
      try {
        return await work((sql, parameters) => this.within(own, sql, parameters, bound));
      } finally {
        this.adapter.close(own);
      }
    });
  }

  /** A connection of the module's own, outside the pool, to `server`; the others it opened closed. */
  private async openTo(server: string, pool: P, bound: Bound): Promise<C> {
    for (let tries = 0; tries < SERVER_TRIES && this.adapter.open; tries++) {
      const opened = await bounded(this.adapter.open(pool), bound, (late) => this.adapter.close(late)).catch(
        (error: unknown) => {
          if (error instanceof CheckTimeoutError) throw error;
          return undefined; // refused by the server the endpoint chose: another may answer
        },
      );
      if (opened === undefined) continue;
      const name = await this.within(opened, this.adapter.serverName, undefined, bound).then(
        ([row]) => row?.name,
        () => undefined,
      );
      if (name !== undefined && String(name) === server) return opened;
      this.adapter.close(opened);
      // A moment of chance before the next: two searches in step behind a round robin would each meet the other's
      // server every time.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
    }
    throw new Error(`No connection of DataSource "${this.database}" reaches the session's server`);
  }

  /** A connection of `pool` the module may use, by the bound; one lent later goes back. */
  private borrow(pool: P, bound: Bound): Promise<C> {
    return new Promise<C>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new CheckTimeoutError(bound.ms));
      }, bound.at - Date.now());
      const take = () =>
        this.adapter.acquire(pool, (error, obtained) => {
          if (settled) return obtained === undefined ? undefined : this.adapter.release(obtained); // too late
          if (error === undefined || error === null) {
            if (!this.usable(obtained!, pool)) return take();
            settled = true;
            clearTimeout(timer);
            return resolve(obtained!);
          }
          settled = true;
          clearTimeout(timer);
          reject(error);
        });
      take();
    });
  }

  /** One statement on `connection`, answered by the bound; a connection that answers late is closed. */
  private within(connection: C, sql: string, parameters: unknown[] | undefined, bound: Bound): Promise<Rows> {
    return new Promise<Rows>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.adapter.close(connection);
        reject(new CheckTimeoutError(bound.ms));
      }, bound.at - Date.now());
      this.send(connection, sql, parameters, (error, result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined || error === null) resolve(this.adapter.rowsOf(result));
        else reject(error);
      });
    });
  }

  /** A pooled connection back once `answer` settles: pooled again unless it was lost or answered late. */
  private async giveBackAfter(connection: C, answer: Promise<Rows>): Promise<Rows> {
    try {
      const rows = await answer;
      this.adapter.release(connection);
      return rows;
    } catch (error) {
      if (this.answered(error)) this.adapter.release(connection);
      else this.discard(connection);
      throw error;
    }
  }

  /** The server's name for itself (host:port), as the engine reads it. */
  async serverName(): Promise<string | undefined> {
    const [row] = await this.query(this.adapter.serverName);
    return row?.name === undefined || row.name === null ? undefined : String(row.name);
  }

  /** Whether a connection about to be lent answers `SELECT 1` within `boundMs`; closed if it does not. */
  ping(connection: C, boundMs: number, alive: (yes: boolean) => void): void {
    let answered = false;
    const answer = (yes: boolean) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      if (!yes) this.adapter.close(connection);
      alive(yes);
    };
    const timer = setTimeout(() => answer(false), Math.max(0, boundMs));
    this.send(connection, 'SELECT 1', undefined, (error) => answer(error === undefined || error === null));
  }

  /**
   * Stops whatever a session is running, from another connection to its server (on another server the same id is
   * somebody else's session); never waited for, never fails. A session whose id or server is unknown is left to the
   * server's own statement limit and to its connection's close.
   */
  stopStatement(session: ServerSession | undefined): void {
    if (session?.id === undefined || session.server === undefined) return;
    const { sql, parameters } = this.adapter.stopStatement(session.id);
    // Already ended, the server does not answer either, or no connection reaches it.
    this.onServer(session.server, (run) => run(sql, parameters)).catch(() => undefined);
  }

  /** A `SELECT 1` on the primary outside every breaker and unit of work: is the server back? */
  probe(): Promise<boolean> {
    return this.query('SELECT 1').then(
      () => true,
      () => false,
    );
  }

  /** The primary answers a trivial statement within `timeoutMs` (and a Galera node says how it is). */
  async checkPrimary(timeoutMs: number): Promise<ServerCheck> {
    const startedAt = performance.now();
    try {
      await this.query('SELECT 1', undefined, { boundMs: timeoutMs });
      const cluster = await this.clusterState(this.adapter.primaryPool(), timeoutMs);
      return { up: true, latencyMs: elapsed(startedAt), ...(cluster && { cluster }) };
    } catch (error) {
      return { up: false, latencyMs: elapsed(startedAt), error };
    }
  }

  /** Each replica: alive, how far behind (the engine's lag statement), and a Galera node's state. */
  checkReplicas(timeoutMs: number): Promise<Array<Omit<ReplicaCheck, 'routable'> & { pool: P; lag: LagReading }>> {
    return Promise.all(
      this.adapter.replicaPools().map(async ({ node, pool }) => {
        const startedAt = performance.now();
        try {
          const { lag, cluster } = await this.replicaState(pool, timeoutMs);
          const found = { node, pool, lag, up: true, latencyMs: elapsed(startedAt), lagSeconds: lag ?? null };
          return cluster ? { ...found, cluster } : found;
        } catch {
          return { node, pool, lag: undefined, up: false, latencyMs: elapsed(startedAt), lagSeconds: null };
        }
      }),
    );
  }

  /**
   * A replica's lag within `boundMs`, or a Galera node's state (a Synced node is not behind: 0; another's lag is
   * not known). A server that answers the statement with an error (the app's user may not read replication status)
   * is up, its lag unknown (undefined); one that does not answer in time, or drops the connection, is down: rejects.
   */
  async replicaState(pool: P, boundMs: number): Promise<{ lag: LagReading; cluster?: ClusterNodeState }> {
    const cluster = await this.clusterState(pool, boundMs);
    if (cluster) return { lag: cluster.synced ? 0 : undefined, cluster };
    const lag = this.adapter.replicaLag;
    return { lag: await this.readingOf(() => this.query(lag.sql, undefined, { pool, boundMs }).then(lag.of)) };
  }

  /** A Galera node's state; undefined for a server that is not one (asked once per pool) or would not say. */
  private async clusterState(pool: P | undefined, boundMs: number): Promise<ClusterNodeState | undefined> {
    const reading = this.adapter.clusterState;
    if (!reading || pool === undefined || this.notClustered.has(pool)) return undefined;
    const state = await this.readingOf(() => this.query(reading.sql, undefined, { pool, boundMs }).then(reading.of));
    if (state === null) this.notClustered.add(pool);
    return state ?? undefined;
  }

  /** A reading, undefined if the server answered with an error; rejects if it did not answer or was lost. */
  private async readingOf<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (this.answered(error)) return undefined;
      throw error;
    }
  }

  /** The server answered with an error: the connection is fine (not lost, not late). */
  private answered(error: unknown): boolean {
    return (
      !(error instanceof CheckTimeoutError) && this.adapter.fateOf(error, this.classifier.classify(error)) === undefined
    );
  }

  private send(connection: C, sql: string, parameters: unknown[] | undefined, callback: DriverCallback): void {
    const raw = this.stateOf(connection)?.rawQuery ?? connection.query;
    try {
      raw.call(connection, sql, parameters ?? [], callback);
    } catch (error) {
      callback(error);
    }
  }

  private discard(connection: C): void {
    this.adapter.close(connection);
    this.adapter.discard(connection);
  }
}

function elapsed(startedAt: number): number {
  return Math.round((performance.now() - startedAt) * 10) / 10;
}
