/**
 * A unit of work failed with an error worth retrying, but the database's retry budget was spent: retries were
 * already above `retryBudget.ratio` of first attempts. It fails now rather than add load to a struggling server.
 * `cause` is the failure that would have been retried.
 */
export class RetryBudgetExhaustedError extends Error {
  override readonly name = 'RetryBudgetExhaustedError';
  readonly code = 'RETRY_BUDGET_EXHAUSTED';

  constructor(
    readonly database: string,
    options: { cause: unknown },
  ) {
    super(
      `Not retried: the retry budget of database "${database}" is spent (too many retries for its first attempts)`,
      options,
    );
  }
}
