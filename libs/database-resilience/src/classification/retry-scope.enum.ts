/** How much must be re-run for a retry to be safe. */
export enum RetryScope {
  /** Re-running the failed statement alone is safe (nothing else was undone). */
  STATEMENT = 'statement',
  /** The whole unit of work must be re-run, after ROLLBACK. */
  TRANSACTION = 'transaction',
  /** The connection is dead: take a new one, then re-run the whole unit of work. */
  CONNECTION = 'connection',
  /** Retrying cannot help, or could apply a write twice. */
  NEVER = 'never',
}
