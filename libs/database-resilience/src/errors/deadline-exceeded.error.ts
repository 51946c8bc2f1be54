/** The caller's deadline passed before the work could finish; the statement was stopped on the server too. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  readonly code = 'DEADLINE_EXCEEDED';

  constructor(
    readonly deadlineMs: number,
    readonly database: string,
  ) {
    super(`The ${deadlineMs} ms deadline passed before the work on database "${database}" finished`);
  }
}
