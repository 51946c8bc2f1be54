/** A health check or housekeeping statement got no answer in time: the server is hung or unreachable. */
export class CheckTimeoutError extends Error {
  override readonly name = 'CheckTimeoutError';
  readonly code = 'HEALTH_CHECK_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`No answer within ${timeoutMs} ms`);
  }
}
