import type { ClassifiedError } from '../classification/classified-error';

/**
 * What the module learnt about an error while it passed through, kept beside the error (never on it, so nothing
 * leaks into a JSON body): one record per error object, read through TypeORM's and the module's wrappers.
 * - `classified`: the decision. The connection guard marks what it saw; the retry runner marks the error it
 *   finally throws (the outermost mark wins), so that what is recorded, counted and answered is one decision.
 * - `outcomeUnknown`: the connection failed while COMMIT (or an autocommit write) was in flight.
 * - `countedBy`: the breaker that counted this failure already (it must not count it twice).
 */
interface ErrorMarks {
  classified?: ClassifiedError;
  outcomeUnknown?: LostCommit;
  countedBy?: string;
  /** PostgreSQL's 25P02 "transaction is aborted": the failure that aborted it, which is what the error means. */
  abortedBy?: ClassifiedError;
}

/** What is known of a write whose connection failed while it was in flight: enough to ask the server later. */
export interface LostCommit {
  /** The server's id of the session (MySQL thread id, PostgreSQL backend pid). */
  sessionId: number | undefined;
  /** The server the session was on (its name for itself): the session is looked up or ended there only. */
  server?: string;
  /** PostgreSQL: the transaction's id (`pg_current_xact_id()`), when it had one before COMMIT was sent. */
  transactionId?: string;
}

const marks = new WeakMap<object, ErrorMarks>();

function marksFor(error: unknown): ErrorMarks | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  let found = marks.get(error);
  if (!found) marks.set(error, (found = {}));
  return found;
}

/** The first mark `pick` finds, from the outermost error inward (TypeORM's `driverError`, an Error's `cause`). */
function findMark<T>(error: unknown, pick: (marks: ErrorMarks) => T | undefined): T | undefined {
  let layer: unknown = error;
  for (let depth = 0; depth < 4 && typeof layer === 'object' && layer !== null; depth++) {
    const found = marks.get(layer);
    const value = found && pick(found);
    if (value !== undefined) return value;
    const record = layer as { driverError?: unknown; cause?: unknown };
    layer = record.driverError ?? record.cause;
  }
  return undefined;
}

export function markDatabaseError(error: unknown, classified: ClassifiedError): void {
  const found = marksFor(error);
  if (found) found.classified = classified;
}

/** The decision about this error: the outermost classification the module gave it, if it saw it. */
export function databaseErrorMarkOf(error: unknown): ClassifiedError | undefined {
  return findMark(error, (m) => m.classified);
}

export function markOutcomeUnknown(
  error: unknown,
  session: { id: number | undefined; server: string | undefined } | undefined,
  transactionId?: string,
): void {
  const found = marksFor(error);
  if (found) found.outcomeUnknown = { sessionId: session?.id, server: session?.server, transactionId };
}

/** Set when nobody knows whether the write was applied (see markOutcomeUnknown). */
export function outcomeUnknownOf(error: unknown): LostCommit | undefined {
  return findMark(error, (m) => m.outcomeUnknown);
}

export function markCounted(error: unknown, breaker: string): void {
  const found = marksFor(error);
  if (found) found.countedBy = breaker;
}

/** Whether `breaker` has counted this error already (or the error inside it). */
export function wasCounted(error: unknown, breaker: string): boolean {
  return findMark(error, (m) => (m.countedBy === breaker ? true : undefined)) === true;
}

/** A statement refused because an earlier failure aborted the transaction: that failure is what it means. */
export function markAbortedBy(error: unknown, cause: ClassifiedError): void {
  const found = marksFor(error);
  if (found) found.abortedBy = cause;
}

export function abortedByOf(error: unknown): ClassifiedError | undefined {
  return findMark(error, (m) => m.abortedBy);
}
