/** The parts of mysql2's (callback) PoolConnection the module uses. */
export interface Mysql2Connection {
  threadId: number | null;
  /** Set by mysql2 at handshake. */
  _isMariaDB?: boolean;
  /** Set by mysql2 when the connection is made and each time it goes back to the pool. */
  lastActiveTime?: number;
  query(...args: unknown[]): unknown;
  release(): void;
  destroy(): void;
}
