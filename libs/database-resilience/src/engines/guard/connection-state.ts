import type { ClassifiedError } from '../../classification/classified-error';
import type { StatementKind } from '../statement-kind';
import type { Watched } from '../watchdog';

export type ConnectionRole = 'primary' | 'replica';

/**
 * What the guard follows of one pooled connection, whatever the engine: its side of a transaction and whether it
 * may be pooled again. Watched by the watchdog while a statement runs under the default timeout: the same object
 * each time, no allocation per statement.
 */
export interface ConnectionState extends Watched {
  /** Replica connections say nothing to the primary's breaker. */
  readonly role: ConnectionRole;
  inTransaction: boolean;
  /** A statement other than a read ran in the open transaction: COMMIT's outcome matters. */
  wrote: boolean;
  /** The open transaction's writes (their SQL, the first few): what a certification conflict at COMMIT lost. */
  writes: string[];
  /** The open transaction's id, when the engine reads one before COMMIT; null: nothing was written (no id). */
  transactionId: string | null | undefined;
  /** The first failure in the open transaction. */
  firstFailure: ClassifiedError | undefined;
  /** The open transaction's server-side statement limit, when the engine sets one per transaction. */
  serverLimitMs: number | undefined;
  /** Destroyed instead of going back to the pool: it failed fatally, timed out, or talks to a read-only server. */
  doomed: boolean;
  /** When it last went back to the pool (or was first met): idle connections are validated before use. */
  releasedAt: number;
  /** The statement watched under the default timeout: ends it with an error. */
  running: ((error: unknown) => void) | undefined;
  runningOutcomeUnknownIfLost: boolean;
  runningKind: StatementKind;
  /** The driver's own query(): the module's housekeeping goes through it, unbounded and unrecorded. */
  readonly rawQuery: (...args: unknown[]) => unknown;
  /** When the concurrency limit admitted the borrow that holds it (undefined: lent past the limit). */
  limitTicket: number | undefined;
  /** The primary's connections are evicted by generation after a failover (WriterFailover). */
  generation: number;
  /** Told when its session is lost (a replica's: its reads go elsewhere for a while). */
  onLost: (() => void) | undefined;
}

/** The writes of a transaction kept for a conflict's account. */
const MAX_WRITES_KEPT = 8;

export function newConnectionState(
  role: ConnectionRole,
  rawQuery: ConnectionState['rawQuery'],
  onExpire: () => void,
): ConnectionState {
  return {
    role,
    inTransaction: false,
    wrote: false,
    writes: [],
    transactionId: undefined,
    firstFailure: undefined,
    serverLimitMs: undefined,
    doomed: false,
    releasedAt: Date.now(),
    at: 0,
    running: undefined,
    runningOutcomeUnknownIfLost: false,
    runningKind: 'read',
    rawQuery,
    limitTicket: undefined,
    onLost: undefined,
    generation: 0,
    onExpire,
  };
}

/**
 * Whether a failure of this statement would leave a write's outcome unknown: COMMIT of a transaction that may
 * have written (an engine that read its id knows when it wrote nothing), or an autocommit write.
 */
export function outcomeUnknownIfLost(state: ConnectionState, kind: StatementKind): boolean {
  return kind === 'commit' ? state.transactionId !== null : kind === 'write' && !state.inTransaction;
}

/** After a statement succeeded: the transaction opened, wrote, or ended. */
export function trackSuccess(state: ConnectionState, kind: StatementKind, sql: string): void {
  if (kind === 'begin') {
    state.inTransaction = true;
    state.wrote = false;
    if (state.writes.length > 0) state.writes = [];
    state.transactionId = undefined;
    state.firstFailure = undefined;
    state.serverLimitMs = undefined;
  } else if (kind === 'commit' || kind === 'rollback') {
    state.inTransaction = false;
  } else if (kind === 'write' && state.inTransaction) {
    state.wrote = true;
    if (state.writes.length < MAX_WRITES_KEPT) state.writes.push(sql);
  }
}

/** The id that settles a lost statement: its transaction's, for COMMIT only (an autocommit write has none). */
export function lostTransactionOf(state: ConnectionState, kind: StatementKind): string | undefined {
  return kind === 'commit' ? (state.transactionId ?? undefined) : undefined;
}
