/**
 * The adaptive limit in front of the database's pool (`concurrencyLimit`) shed this call: more work was in flight
 * than the pool serves without queueing, and it would not have been admitted within the queue's wait. Nothing
 * reached the server. Made without calling Error's constructor (as CircuitOpenError): shedding must stay cheap.
 */
export class ConcurrencyLimitExceededError extends Error {
  declare readonly code: 'CONCURRENCY_LIMIT';
  declare readonly database: string;
  /** The limit when the call was shed. */
  declare readonly limit: number;

  static {
    Object.defineProperty(this.prototype, 'name', {
      value: 'ConcurrencyLimitExceededError',
      writable: true,
      configurable: true,
    });
    Object.defineProperty(this.prototype, 'code', { value: 'CONCURRENCY_LIMIT', configurable: true });
  }

  private constructor() {
    super();
  }

  static create(database: string, limit: number): ConcurrencyLimitExceededError {
    const error = Object.create(ConcurrencyLimitExceededError.prototype) as {
      -readonly [K in keyof ConcurrencyLimitExceededError]: ConcurrencyLimitExceededError[K];
    };
    error.database = database;
    error.limit = limit;
    error.message = `Database "${database}" is at its concurrency limit (${limit} in flight); the call was shed`;
    return error as ConcurrencyLimitExceededError;
  }
}
