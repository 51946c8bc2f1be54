/** The parts of mysql2's (callback) PoolConnection the module uses. */
export interface Mysql2Connection {
  threadId: number | null;
  /** Set by mysql2 at handshake. */
  _isMariaDB?: boolean;
  /** Set by mysql2 when the connection is made and each time it goes back to the pool. */
  lastActiveTime?: number;
  /** Where it connected: a server, or a proxy in front of one. */
  config?: { host?: string; port?: number };
  query(...args: unknown[]): unknown;
  release(): void;
  destroy(): void;
}
