/**
 * The connection failed after COMMIT (or an autocommit write) was sent: the work may or may not have been
 * applied, so the module did not retry it. Give the unit of work an idempotency key to let the module find out,
 * or mark it `idempotent` if running it twice is harmless.
 */
export class CommitOutcomeUnknownError extends Error {
  override readonly name = 'CommitOutcomeUnknownError';
  readonly code = 'COMMIT_OUTCOME_UNKNOWN';
  readonly database: string;
  readonly operation: string | undefined;
  /** The server's id of the session that was committing (MySQL thread id, PostgreSQL pid); it may still run. */
  readonly sessionId: number | undefined;
  readonly idempotencyKey: string | undefined;

  constructor(details: {
    database: string;
    operation?: string;
    sessionId?: number;
    idempotencyKey?: string;
    cause: unknown;
  }) {
    super(
      `The outcome of ${details.operation ?? 'a unit of work'} on database "${details.database}" is unknown: ` +
        `the connection (session ${details.sessionId ?? '?'}) failed after COMMIT was sent. It was not retried.`,
      { cause: details.cause },
    );
    this.database = details.database;
    this.operation = details.operation;
    this.sessionId = details.sessionId;
    this.idempotencyKey = details.idempotencyKey;
  }

  /** @deprecated The session's id is `sessionId` (PostgreSQL has no threads); this name stays for one release. */
  get threadId(): number | undefined {
    return this.sessionId;
  }
}
