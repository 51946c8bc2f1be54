/**
 * The caller gave up (its HTTP client went away, or the `signal` it passed was aborted): the statement running for it
 * was stopped on the server and its transaction rolled back. Not a database failure: never retried, not counted by
 * a breaker, not recorded as an error (a `unit-cancelled` event says it happened).
 */
export class RequestCancelledError extends Error {
  override readonly name = 'RequestCancelledError';
  readonly code = 'REQUEST_CANCELLED';

  constructor(readonly database: string) {
    super(`The caller cancelled the work on database "${database}"; its statement was stopped`);
  }
}
