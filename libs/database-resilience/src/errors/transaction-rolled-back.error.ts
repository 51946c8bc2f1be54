import type { ClassifiedError } from '../classification/classified-error';

/**
 * COMMIT was answered with a ROLLBACK (PostgreSQL does so, without an error, when a statement of the transaction
 * had failed and the error was caught): nothing of the transaction was written. The failure that aborted it,
 * when the module saw it, is `abortedBy`.
 */
export class TransactionRolledBackError extends Error {
  override readonly name = 'TransactionRolledBackError';
  readonly code = 'TRANSACTION_ROLLED_BACK';

  constructor(
    readonly database: string,
    readonly abortedBy: ClassifiedError | undefined,
  ) {
    super(
      `COMMIT on database "${database}" rolled the transaction back: an earlier statement failed ` +
        `(${abortedBy ? abortedBy.name : 'its error was caught'}) and nothing was written`,
    );
  }
}
