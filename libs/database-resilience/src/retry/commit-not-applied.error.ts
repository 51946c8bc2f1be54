/** Internal: settling an ambiguous commit found it was not applied, so the unit may safely run again. */
export class CommitNotAppliedError extends Error {
  override readonly name = 'CommitNotAppliedError';

  constructor(cause: unknown) {
    super('The commit was not applied; the unit of work is run again', { cause });
  }
}
