/**
 * The database's circuit breaker is open: the call was rejected at once, without touching the server.
 * Built without a stack trace: rejecting must stay cheap while a server is down and callers keep coming.
 */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
  readonly code = 'CIRCUIT_OPEN';

  private constructor(
    readonly database: string,
    /** Milliseconds until the breaker lets a probe through. */
    readonly retryAfterMs: number,
  ) {
    super(`The circuit breaker of database "${database}" is open; retry after ${Math.ceil(retryAfterMs / 1000)} s`);
  }

  static create(database: string, retryAfterMs: number): CircuitOpenError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CircuitOpenError(database, Math.max(0, retryAfterMs));
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
