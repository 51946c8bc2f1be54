import type { ClassifiedError } from '../../classification/classified-error';
import { ErrorCategory } from '../../classification/error-category.enum';
import { markOutcomeUnknown } from '../../errors/database-error-marks';
import type { Mysql2Connection } from './mysql2-connection';
import type { StatementKind } from '../statement-kind';
import type { Watched } from '../watchdog';

/**
 * What the guard follows of one pooled connection: its side of a transaction, and whether it may be pooled
 * again. Watched by the watchdog while a statement runs under the default timeout (`queries.timeoutMs`): the
 * same object each time, no allocation per statement.
 */
export interface ConnectionState extends Watched {
  /** Replica connections say nothing to the primary's breaker. */
  role: 'primary' | 'replica';
  inTransaction: boolean;
  /** Destroyed instead of going back to the pool: it failed fatally, timed out, or talks to a read-only server. */
  doomed: boolean;
  /** The statement watched under the default timeout: ends it with an error. */
  running: ((error: unknown) => void) | undefined;
  runningOutcomeUnknownIfLost: boolean;
  /** mysql2's own query(): the module's housekeeping (KILL QUERY) goes through it, unbounded and unrecorded. */
  rawQuery: Mysql2Connection['query'];
  /** When the concurrency limit admitted the borrow that holds it (undefined: lent past the limit). */
  limitTicket: number | undefined;
}

/** The state of a connection the guard has just met: no transaction, poolable, nothing running. */
export function newConnectionState(
  role: ConnectionState['role'],
  rawQuery: Mysql2Connection['query'],
  onExpire: () => void,
): ConnectionState {
  return {
    role,
    inTransaction: false,
    doomed: false,
    at: 0,
    running: undefined,
    runningOutcomeUnknownIfLost: false,
    rawQuery,
    limitTicket: undefined,
    onExpire,
  };
}

/** Errors after which a connection must not be reused: the server is read-only (a demoted primary). */
const READ_ONLY_ERRNOS = new Set([1290, 1836, 1874, 1792]);

/** Whether a failure of this statement would leave a write's outcome unknown: COMMIT, or an autocommit write. */
export function outcomeUnknownIfLost(state: ConnectionState, kind: StatementKind): boolean {
  return kind === 'commit' || (kind === 'write' && !state.inTransaction);
}

/** After a statement succeeded: the transaction opened or ended. */
export function trackSuccess(state: ConnectionState, kind: StatementKind): void {
  if (kind === 'begin') state.inTransaction = true;
  else if (kind === 'commit' || kind === 'rollback') state.inTransaction = false;
}

/**
 * After a statement failed (`seen`: its classification): a COMMIT or ROLLBACK ended the transaction either way;
 * a lost connection or a read-only refusal dooms the connection; a lost connection while COMMIT or an
 * autocommit write was in flight marks the error "outcome unknown" — except mysql2's "closed state", where
 * nothing was sent.
 */
export function trackFailure(
  state: ConnectionState,
  threadId: number | null,
  error: unknown,
  seen: ClassifiedError,
  kind: StatementKind,
  unknownIfLost: boolean,
): void {
  if (kind === 'commit' || kind === 'rollback') state.inTransaction = false;
  const lost =
    seen.category === ErrorCategory.CONNECTION ||
    seen.code === 'PROTOCOL_SEQUENCE_TIMEOUT' ||
    (error as { fatal?: unknown }).fatal === true;
  if (lost || READ_ONLY_ERRNOS.has(seen.errno ?? 0)) state.doomed = true;
  if (unknownIfLost && lost && seen.name !== 'CONNECTION_CLOSED_STATE') markOutcomeUnknown(error, threadId);
}
