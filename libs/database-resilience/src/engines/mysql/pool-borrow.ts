import { poolWait } from '../pool-wait';
import type { ResolvedResilienceOptions } from '../../options/options.schema';
import type { UnitOfWork } from '../../context/unit-of-work';
import type { Mysql2Connection } from './mysql2-connection';
import { preciseWatch, type Watch, type Watchdog } from '../watchdog';

export type Deadline = NonNullable<UnitOfWork['deadline']>;
type Callback = (error: unknown, connection?: Mysql2Connection) => void;

/** Takes a connection from a pool; calls back once. `hasIdle`: a connection is free, so it will not wait. */
export type Obtain = ((callback: Callback) => void) & { hasIdle?: () => boolean };

/** The parts of TypeORM's MysqlDriver that take connections from mysql2's pool (or pool cluster) directly. */
export interface PooledDriver {
  pool?: {
    getConnection(callback: Callback): void;
    /** mysql2's own: handed out at once (on the next tick) while there are any. */
    _freeConnections?: { length: number };
  };
  poolCluster?: { getConnection(pattern: string, callback: Callback): void };
  prepareDbConnection?(connection: Mysql2Connection): Mysql2Connection;
}

/**
 * What TypeORM's obtainMasterConnection/obtainSlaveConnection do, with a callback instead of a promise (one
 * promise less per statement); `fallback` (TypeORM's own) where the driver is not built as expected.
 */
export function fromPool(
  driver: PooledDriver,
  pattern: 'MASTER' | 'SLAVE*',
  fallback: () => Promise<Mysql2Connection>,
): Obtain {
  const obtain: Obtain = (callback) => {
    const prepared: Callback = (error, connection) =>
      error ? callback(error) : callback(undefined, driver.prepareDbConnection!(connection!));
    if (driver.prepareDbConnection && driver.poolCluster) driver.poolCluster.getConnection(pattern, prepared);
    else if (driver.prepareDbConnection && driver.pool) driver.pool.getConnection(prepared);
    else fallback().then((connection) => callback(undefined, connection), callback);
  };
  if (!driver.poolCluster) obtain.hasIdle = () => (driver.pool?._freeConnections?.length ?? 0) > 0;
  return obtain;
}

/**
 * Borrowing from a pool, bounded: the wait for a connection (mysql2 has no bound of its own) is at most
 * `pool.acquireTimeoutMs` and never past the caller's deadline; a connection that sat idle
 * `pool.validateAfterIdleMs` is pinged first (within `pool.validationTimeoutMs`).
 */
export class PoolBorrow {
  constructor(
    private readonly options: ResolvedResilienceOptions['pool'],
    private readonly database: string,
    private readonly watchdog: Watchdog,
  ) {}

  /** Takes a connection; `callback` is called once, with an error or the connection. */
  acquire(obtain: Obtain, deadline: Deadline | undefined, callback: Callback): void {
    if (deadline === undefined && obtain.hasIdle?.()) return obtain(callback); // no wait to bound
    const now = Date.now();
    const { waitMs, timeoutError } = poolWait(this.database, this.options.acquireTimeoutMs, deadline, now);
    let settled = false;
    const expire = () => {
      settled = true;
      callback(timeoutError());
    };
    // A caller's own deadline gets a precise timer; the module's default bound the coarse watchdog.
    const watch: Watch =
      deadline !== undefined ? preciseWatch(now + waitMs, expire) : this.watchdog.watch(now + waitMs, expire);
    obtain((error, connection) => {
      if (settled) return connection?.release(); // came too late: back to the pool
      settled = true;
      watch.cancel();
      if (error) callback(error);
      else callback(undefined, connection);
    });
  }

  /** acquire() as a promise, for the paths that are not on every request. */
  acquired(obtain: Obtain): Promise<Mysql2Connection> {
    return new Promise((resolve, reject) =>
      this.acquire(obtain, undefined, (error, connection) =>
        error === undefined ? resolve(connection!) : reject(error),
      ),
    );
  }

  /** Whether a connection sat idle long enough (`pool.validateAfterIdleMs`) to be pinged before use. */
  idleTooLong(connection: Mysql2Connection): boolean {
    const idleLimit = this.options.validateAfterIdleMs;
    const lastActive = connection.lastActiveTime;
    return idleLimit !== null && lastActive !== undefined && Date.now() - lastActive >= idleLimit; // 0: always
  }

  /** Pings the connection, giving up after `pool.validationTimeoutMs` or at the deadline. */
  ping(connection: Mysql2Connection, deadline: Deadline | undefined, callback: (alive: boolean) => void): void {
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

  /** Alive, or not idle long enough to ask. */
  isAlive(connection: Mysql2Connection): Promise<boolean> | boolean {
    if (!this.idleTooLong(connection)) return true;
    return new Promise((resolve) => this.ping(connection, undefined, resolve));
  }
}
