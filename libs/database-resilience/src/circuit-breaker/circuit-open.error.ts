/**
 * The database's circuit breaker is open: the call was rejected at once, without touching the server.
 * Made without calling Error's constructor, so without a stack trace: rejecting must stay cheap while a server
 * is down and callers keep coming. `instanceof Error` and `instanceof CircuitOpenError` hold as usual.
 */
export class CircuitOpenError extends Error {
  declare readonly code: 'CIRCUIT_OPEN';
  declare readonly database: string;
  /** Milliseconds until the breaker lets a probe through. */
  declare readonly retryAfterMs: number;

  static {
    Object.defineProperty(this.prototype, 'name', { value: 'CircuitOpenError', writable: true, configurable: true });
    Object.defineProperty(this.prototype, 'code', { value: 'CIRCUIT_OPEN', configurable: true });
  }

  private constructor() {
    super();
  }

  static create(database: string, retryAfterMs: number): CircuitOpenError {
    const error = Object.create(CircuitOpenError.prototype) as {
      -readonly [K in keyof CircuitOpenError]: CircuitOpenError[K];
    };
    const wait = Math.max(0, retryAfterMs);
    error.database = database;
    error.retryAfterMs = wait;
    error.message = `The circuit breaker of database "${database}" is open; retry after ${Math.ceil(wait / 1000)} s`;
    return error as CircuitOpenError;
  }
}
