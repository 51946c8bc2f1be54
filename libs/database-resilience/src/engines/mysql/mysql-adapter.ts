import type { DataSource } from 'typeorm';
import type { ClassifiedError } from '../../classification/classified-error';
import { ErrorCategory } from '../../classification/error-category.enum';
import { markAbortedBy } from '../../errors/database-error-marks';
import type { ConnectionState } from '../guard/connection-state';
import { serverLimitOf } from '../guard/server-limit';
import type { ConnectionFate, DriverAdapter, StatementRunner } from '../guard/driver-adapter';
import { ServerSessions, type ServerSession } from '../guard/server-sessions';
import { statementOf, type StatementKind } from '../statement-kind';
import { certificationConflict } from '../certification-conflict';
import { GALERA_STATE_SQL, galeraStateOf } from './galera-state';
import type { Mysql2Connection } from './mysql2-connection';
import { primaryPoolSize } from './pool-figures';

type Callback = (error: unknown, connection?: Mysql2Connection) => void;

/** A Galera node's answers that it cannot serve (1047, 1180 out of the primary component): nothing was applied. */
const NODE_REFUSALS = new Set(['ER_UNKNOWN_COM_ERROR', 'WSREP_NOT_PRIMARY']);

/** The server's name for itself. */
const SERVER_NAME = "CONCAT(@@hostname, ':', @@port)";

/** A pool to borrow from: the primary's, or one replica node of TypeORM's pool cluster. */
export interface Mysql2Pool {
  getConnection(callback: Callback): void;
  /** mysql2's own: the connections handed out at once while there are any (a plain pool only). */
  _freeConnections?: { length: number };
}

/** The parts of TypeORM's MysqlDriver the adapter reads. */
export interface MysqlDriver {
  pool?: Mysql2Pool;
  poolCluster?: { of(pattern: string): Mysql2Pool };
  options: { replication?: { master?: unknown; slaves?: unknown[] } };
  prepareDbConnection?(connection: Mysql2Connection): Mysql2Connection;
  /** The mysql2 library TypeORM loaded, and the options it makes its pools with. */
  mysql?: { createConnection(options: unknown): Mysql2Connection & Connecting };
  createConnectionOptions?(options: unknown, credentials: unknown): Promise<unknown>;
}

/** A mysql2 connection of its own, not a pool's. */
interface Connecting {
  connect(callback: (error: unknown) => void): void;
  on(event: 'error', listener: () => void): unknown;
}

/** MySQL and MariaDB through mysql2's callback API, as TypeORM's MysqlDriver pools it. */
export class MysqlAdapter implements DriverAdapter<Mysql2Connection, Mysql2Pool> {
  /** mysql2's own release of each instrumented connection (its `release` is the core's). */
  private readonly releases = new WeakMap<Mysql2Connection, () => void>();
  /** Each connection's thread id as its server confirmed it, and which server (`@@hostname:@@port`). */
  private readonly sessions = new ServerSessions<Mysql2Connection>(
    `SELECT CONNECTION_ID() AS id, ${SERVER_NAME} AS server`,
  );
  private replicas?: Array<{ node: string; pool: Mysql2Pool }>;
  private clusterPrimary?: Mysql2Pool;

  private readonly driver: MysqlDriver;

  constructor(dataSource: DataSource) {
    this.driver = dataSource.driver as unknown as MysqlDriver;
  }

  primaryPool(): Mysql2Pool | undefined {
    const { pool, poolCluster } = this.driver;
    return pool ?? (this.clusterPrimary ??= poolCluster?.of('MASTER'));
  }

  replicaPools(): Array<{ node: string; pool: Mysql2Pool }> {
    const { poolCluster, options } = this.driver;
    if (!poolCluster) return [];
    return (this.replicas ??= (options.replication?.slaves ?? []).map((_, index) => ({
      node: `SLAVE${index}`,
      pool: poolCluster.of(`SLAVE${index}`),
    })));
  }

  primaryPoolSize(): number | null {
    return primaryPoolSize(this.driver);
  }

  acquire(pool: Mysql2Pool, callback: Callback): void {
    const driver = this.driver;
    pool.getConnection((error, obtained) => {
      if (error) return callback(error);
      const connection = driver.prepareDbConnection?.(obtained!) ?? obtained!;
      this.sessions.learn(
        connection,
        connection.threadId,
        (sql, answer) => this.ask(connection, sql, answer),
        () => callback(undefined, connection),
      );
    });
  }

  /** A statement of the module's own on a connection not yet lent (mysql2's own query: not instrumented yet). */
  private ask(
    connection: Mysql2Connection,
    sql: string,
    answer: (error: unknown, row?: Record<string, unknown>) => void,
  ) {
    connection.query(sql, (error: unknown, rows: unknown) =>
      answer(error, Array.isArray(rows) ? (rows[0] as Record<string, unknown>) : undefined),
    );
  }

  /** A connection made as TypeORM makes the primary's pool (its options, the primary's credentials). */
  async open(): Promise<Mysql2Connection> {
    const { mysql, options, createConnectionOptions } = this.driver;
    if (mysql === undefined || createConnectionOptions === undefined) throw new Error('mysql2 is not loaded');
    const credentials = options.replication?.master ?? options;
    const connection = mysql.createConnection(await createConnectionOptions.call(this.driver, options, credentials));
    connection.on('error', () => undefined); // its failures reach the statement that meets them
    await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
    return connection;
  }

  hasIdle(pool: Mysql2Pool): boolean {
    return (pool._freeConnections?.length ?? 0) > 0;
  }

  /** mysql2 stamps `lastActiveTime` on each release: the core need not read the clock itself. */
  idleSince(connection: Mysql2Connection): number | undefined {
    return connection.lastActiveTime;
  }

  release(connection: Mysql2Connection): void {
    (this.releases.get(connection) ?? connection.release).call(connection);
  }

  discard(connection: Mysql2Connection): void {
    connection.destroy();
  }

  close(connection: Mysql2Connection): void {
    connection.destroy();
  }

  instrument(connection: Mysql2Connection, state: ConnectionState, runner: StatementRunner<Mysql2Connection>): void {
    this.releases.set(connection, connection.release);
    connection.release = () => runner.giveBack(connection);
    connection.query = (...args: unknown[]) => {
      const first = args[0] as string | { sql?: unknown } | undefined;
      const sql = typeof first === 'string' ? first : first?.sql;
      if (typeof args[args.length - 1] !== 'function' || typeof sql !== 'string') {
        return state.rawQuery.apply(connection, args); // streams
      }
      return runner.run(connection, state, sql, args);
    };
  }

  rowsOf(result: unknown): Array<Record<string, unknown>> {
    return Array.isArray(result) ? result : [];
  }

  session(connection: Mysql2Connection): ServerSession | undefined {
    return this.sessions.of(connection);
  }

  stopStatement(sessionId: number): { sql: string } {
    return { sql: `KILL QUERY ${Number(sessionId)}` }; // 1094 "Unknown thread id": it had ended, the usual case
  }

  /**
   * MariaDB's `SET STATEMENT max_statement_time ... FOR`, MySQL's `MAX_EXECUTION_TIME` hint for SELECTs. MySQL
   * writes go out unchanged: the client timer and KILL QUERY stop them.
   */
  withServerLimit(connection: Mysql2Connection, sql: string, kind: StatementKind, leftMs: number): string {
    const remainingMs = serverLimitOf(leftMs);
    if (connection._isMariaDB) return `SET STATEMENT max_statement_time=${(remainingMs / 1000).toFixed(3)} FOR ${sql}`;
    if (kind === 'read' && /^\s*SELECT\b/i.test(sql)) {
      return sql.replace(/^\s*SELECT\b/i, `SELECT /*+ MAX_EXECUTION_TIME(${Math.ceil(remainingMs)}) */`);
    }
    return sql;
  }

  /** mysql2 marks the errors that ended the connection fatal; "closed state": nothing was sent. */
  fateOf(error: unknown, seen: ClassifiedError): ConnectionFate {
    const lost =
      seen.category === ErrorCategory.CONNECTION ||
      seen.code === 'PROTOCOL_SEQUENCE_TIMEOUT' ||
      (error as { fatal?: unknown } | null)?.fatal === true;
    if (!lost) return undefined;
    if (NODE_REFUSALS.has(seen.name)) return 'refused';
    return seen.name === 'CONNECTION_CLOSED_STATE' ? 'lost-before-sending' : 'lost';
  }

  /** A deadlock at COMMIT is a cluster's certification conflict (Galera): InnoDB reports none there. */
  interpret(connection: Mysql2Connection, state: ConnectionState, error: unknown, seen: ClassifiedError, sql: string) {
    if (seen.category !== ErrorCategory.DEADLOCK || statementOf(sql).kind !== 'commit') return seen;
    const { host, port } = connection.config ?? {};
    const conflict = certificationConflict(seen, sql, state.writes, host === undefined ? undefined : `${host}:${port}`);
    markAbortedBy(error, conflict); // what the retry runner records
    return conflict;
  }

  readonly serverName = `SELECT ${SERVER_NAME} AS name`;

  readonly clusterState = { sql: GALERA_STATE_SQL, of: galeraStateOf };

  readonly replicaLag = { sql: 'SHOW REPLICA STATUS', of: replicationLagOf };
}

/** Seconds a replica is behind its primary (MariaDB, MySQL 8), or null if it does not replicate. */
export function replicationLagOf(rows: Array<Record<string, unknown>>): number | null {
  const row = rows[0];
  const lag = row?.Seconds_Behind_Master ?? row?.Seconds_Behind_Source;
  return typeof lag === 'number' ? lag : lag === null || lag === undefined ? null : Number(lag);
}
