import type { ErrorClassifier } from '../../classification/error-classifier';
import { housekeeping } from '../../context/unit-of-work';
import { CheckTimeoutError } from '../check-timeout.error';
import type { ClusterNodeState, ReplicaCheck, ServerCheck } from '../database-engine';
import type { ConnectionState } from './connection-state';
import type { DriverAdapter, DriverCallback, GuardedConnection } from './driver-adapter';
import type { LagReading } from './replica-routing';

type Rows = Array<Record<string, unknown>>;

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
    return housekeeping(
      () =>
        new Promise<Rows>((resolve, reject) => {
          const target = pool ?? this.adapter.primaryPool();
          if (target === undefined) return reject(new Error(`DataSource "${this.database}" is not connected`));
          const bound = boundMs ?? this.boundMs;
          let settled = false;
          let connection: C | undefined;
          const timer = setTimeout(() => {
            settled = true;
            if (connection !== undefined) this.discard(connection);
            reject(new CheckTimeoutError(bound));
          }, bound);
          const take = () =>
            this.adapter.acquire(target, (error, obtained) => {
              if (settled) return obtained === undefined ? undefined : this.adapter.release(obtained); // too late
              if (error !== undefined && error !== null) {
                settled = true;
                clearTimeout(timer);
                return reject(error);
              }
              if (!this.usable(obtained!, target)) return take();
              connection = obtained!;
              this.send(obtained!, sql, parameters, (queryError, result) => {
                if (settled) return; // closed at the bound already
                settled = true;
                clearTimeout(timer);
                if (queryError === undefined || queryError === null) {
                  this.adapter.release(obtained!);
                  return resolve(this.adapter.rowsOf(result));
                }
                // A server's error leaves the connection usable; a lost one does not.
                if (this.adapter.fateOf(queryError, this.classifier.classify(queryError)) === undefined) {
                  this.adapter.release(obtained!);
                } else this.discard(obtained!);
                reject(queryError);
              });
            });
          take();
        }),
    );
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

  /** Stops whatever a session is running, from another connection; never waited for, never fails. */
  stopStatement(sessionId: number | undefined): void {
    if (sessionId === undefined) return;
    const { sql, parameters } = this.adapter.stopStatement(sessionId);
    this.query(sql, parameters).catch(() => undefined); // already ended, or the server does not answer either
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
    return { lag: await this.answered(() => this.query(lag.sql, undefined, { pool, boundMs }).then(lag.of)) };
  }

  /** A Galera node's state; undefined for a server that is not one (asked once per pool) or would not say. */
  private async clusterState(pool: P | undefined, boundMs: number): Promise<ClusterNodeState | undefined> {
    const reading = this.adapter.clusterState;
    if (!reading || pool === undefined || this.notClustered.has(pool)) return undefined;
    const state = await this.answered(() => this.query(reading.sql, undefined, { pool, boundMs }).then(reading.of));
    if (state === null) this.notClustered.add(pool);
    return state ?? undefined;
  }

  /** A reading, undefined if the server answered with an error; rejects if it did not answer or was lost. */
  private async answered<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      const answered =
        !(error instanceof CheckTimeoutError) &&
        this.adapter.fateOf(error, this.classifier.classify(error)) === undefined;
      if (answered) return undefined;
      throw error;
    }
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
