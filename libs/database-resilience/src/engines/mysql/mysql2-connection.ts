/** The parts of mysql2's (callback) PoolConnection the module uses. */
export interface Mysql2Connection {
  threadId: number | null;
  /** Set by mysql2 at handshake. */
  _isMariaDB?: boolean;
  query(...args: unknown[]): unknown;
  release(): void;
  destroy(): void;
}
