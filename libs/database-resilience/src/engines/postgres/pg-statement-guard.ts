import type { ClassifiedError } from '../../classification/classified-error';
import { ErrorCategory } from '../../classification/error-category.enum';
import { requestContext, type RequestContext } from '../../context/request-context';
import { unitOfWork } from '../../context/unit-of-work';
import {
  markAbortedBy,
  markDatabaseError,
  markOutcomeUnknown,
  outcomeUnknownOf,
} from '../../errors/database-error-marks';
import { DeadlineExceededError } from '../../errors/deadline-exceeded.error';
import { TransactionRolledBackError } from '../../errors/transaction-rolled-back.error';
import { statementOf, type StatementKind } from '../statement-kind';
import type { StatementReporter } from '../statement-reporter';
import type { PgClient, PgResult } from './pg-client';

/**
 * The server is told to stop a transaction's statements this much before the caller's deadline (at most a
 * quarter of the time left), so that its own clean error (57014) usually comes first.
 */
const SERVER_MARGIN_MS = 250;

/** The server's limit for a statement sent with `leftMs` to the deadline. */
const serverLimitOf = (leftMs: number) => Math.max(1, Math.floor(leftMs - Math.min(SERVER_MARGIN_MS, leftMs / 4)));

/** What the guard follows of one pooled pg client. */
export interface PgClientState {
  /** Replica clients say nothing to the primary's breaker. */
  readonly role: 'primary' | 'replica';
  inTransaction: boolean;
  /** A statement other than a read ran in the open transaction: COMMIT's outcome matters. */
  wrote: boolean;
  /** The open transaction's id, read just before COMMIT; null when it wrote nothing (no id was assigned). */
  transactionId: string | null | undefined;
  /** The first failure in the open transaction: PostgreSQL aborts the whole transaction on any error. */
  abortedBy: ClassifiedError | undefined;
  /** The open transaction's `statement_timeout` (SET LOCAL under a deadline): a limit per statement, not in all. */
  serverLimitMs: number | undefined;
  /** Destroyed instead of going back to the pool: its session is lost, timed out, or on a read-only server. */
  doomed: boolean;
  /** When it last went back to the pool (for the validation of idle clients). */
  releasedAt: number;
  /** pg's own query(): the module's housekeeping goes through it, unbounded and unrecorded. */
  readonly rawQuery: PgClient['query'];
  /** Told when its session is lost (a replica's: reads go to the primary for a while). */
  onLost?: () => void;
}

export function newPgClientState(role: PgClientState['role'], rawQuery: PgClient['query']): PgClientState {
  return {
    role,
    inTransaction: false,
    wrote: false,
    transactionId: undefined,
    abortedBy: undefined,
    serverLimitMs: undefined,
    doomed: false,
    releasedAt: Date.now(),
    rawQuery,
  };
}

const TRANSACTION_ID = 'SELECT pg_current_xact_id_if_assigned()::text AS xid';
/** SQLSTATEs after which a client must not be reused: the server is read-only (a standby, a demoted primary). */
const READ_ONLY_STATES = new Set(['25006']);

/**
 * The statement path of a guarded pg client: the caller's deadline (or `queries.timeoutMs`) on every statement,
 * the transaction it belongs to followed, each outcome reported once; the traps of PostgreSQL handled here:
 * - a COMMIT the server answers `ROLLBACK` (the transaction had failed and the error was swallowed) fails;
 * - a statement the client gives up on never stays behind: the client is closed (never pooled with an open
 *   transaction a later COMMIT would commit) and its session terminated on the server;
 * - the transaction's id is read before COMMIT, so that a COMMIT lost with its connection can be settled.
 */
export class PgStatementGuard {
  constructor(
    private readonly database: string,
    private readonly statementTimeoutMs: number | null,
    private readonly reporter: StatementReporter,
    /** Ends a session from another connection (pg_terminate_backend); never waited for. */
    private readonly terminate: (pid: number | undefined) => void,
    /** Told of each deadlock this client's statement lost (40P01), with the statement. */
    private readonly onDeadlock: (error: unknown, sql: string, pid: number | undefined) => void,
  ) {}

  /** Wraps pg's `client.query(...)`: promise-style calls (TypeORM's) are guarded; callbacks and streams pass. */
  run(client: PgClient, state: PgClientState, args: unknown[]): unknown {
    const first = args[0];
    if (typeof first !== 'string' || typeof args[args.length - 1] === 'function') {
      return state.rawQuery.apply(client, args);
    }
    return this.guarded(client, state, first, args[1]);
  }

  private async guarded(client: PgClient, state: PgClientState, sql: string, parameters: unknown) {
    const { kind, data } = statementOf(sql);
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    const deadline = unit?.deadline ?? request?.deadline;
    const inUnit = unit !== undefined;
    if (deadline !== undefined && deadline.at <= Date.now())
      throw new DeadlineExceededError(deadline.ms, this.database);
    const bound = { deadline, timeoutMs: deadline === undefined && data ? this.statementTimeoutMs : null };

    if (kind === 'commit' && state.inTransaction && state.wrote && !state.abortedBy && state.role === 'primary') {
      // Its id, while the transaction is open: a COMMIT lost with its connection is settled by it (pg_xact_status).
      const found = (await this.execute(
        client,
        state,
        TRANSACTION_ID,
        undefined,
        'read',
        false,
        bound,
        inUnit,
        request,
      )) as PgResult;
      state.transactionId = (found.rows?.[0]?.xid as string | null | undefined) ?? null;
    }
    let sent = sql;
    let limitMs: number | undefined;
    if (kind === 'begin' && deadline !== undefined && parameters === undefined) {
      // The server stops the transaction's statements a little before the deadline: SET LOCAL in the same
      // message as BEGIN costs no round trip, and ends with the transaction.
      limitMs = serverLimitOf(deadline.at - Date.now());
      sent = `${sql}; SET LOCAL statement_timeout = ${limitMs}`;
    } else if (data && deadline !== undefined && state.inTransaction && !state.abortedBy) {
      // statement_timeout bounds each statement: once the earlier ones used up a tenth of it (20 ms at least),
      // lower it (one round trip, paid only after slow statements), so that the server's own 57014 still comes
      // before the client gives up — a server that answers is not taken for a hung one.
      const wanted = serverLimitOf(deadline.at - Date.now());
      if (state.serverLimitMs !== undefined && state.serverLimitMs - wanted > Math.max(20, wanted / 10)) {
        const lower = `SET LOCAL statement_timeout = ${wanted}`;
        await this.execute(client, state, lower, undefined, 'read', false, bound, inUnit, request);
        state.serverLimitMs = wanted;
      }
    }
    const unknownIfLost = kind === 'commit' ? state.transactionId !== null : kind === 'write' && !state.inTransaction;
    const result = await this.execute(client, state, sent, parameters, kind, unknownIfLost, bound, inUnit, request);
    if (kind === 'begin') state.serverLimitMs = limitMs;
    // BEGIN with SET LOCAL answers twice: TypeORM gets BEGIN's answer (a caller's own multi-statement query, all).
    const first = (sent !== sql && Array.isArray(result) ? result[0] : result) as PgResult | undefined;
    if (kind === 'commit' && first?.command === 'ROLLBACK') {
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK and no error: nothing was written.
      const error = new TransactionRolledBackError(this.database, state.abortedBy);
      const classified = this.reporter.classify(error);
      markDatabaseError(error, classified);
      if (!inUnit) this.reporter.recordOutsideUnit(classified, request);
      throw error;
    }
    return first;
  }

  /** Sends one statement, bounded; tracks and reports its outcome. */
  private execute(
    client: PgClient,
    state: PgClientState,
    sql: string,
    parameters: unknown,
    kind: StatementKind,
    unknownIfLost: boolean,
    bound: { deadline: { at: number; ms: number } | undefined; timeoutMs: number | null },
    inUnit: boolean,
    request: RequestContext | undefined,
  ): Promise<unknown> {
    const startedAt = performance.now();
    const sending = (
      parameters === undefined ? state.rawQuery.call(client, sql) : state.rawQuery.call(client, sql, parameters)
    ) as Promise<unknown>;
    const { deadline, timeoutMs } = bound;
    const waitMs = deadline !== undefined ? deadline.at - Date.now() : timeoutMs;
    return new Promise((resolve, reject) => {
      let finished = false;
      const timer =
        waitMs === null
          ? undefined
          : setTimeout(
              () => {
                if (finished) return;
                finished = true;
                reject(
                  this.expire(client, state, deadline?.ms ?? timeoutMs!, unknownIfLost, lostTransactionOf(state, kind)),
                );
              },
              Math.max(0, waitMs),
            );
      sending.then(
        (result) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          this.reporter.timed(sql, kind, performance.now() - startedAt, false, request);
          this.trackSuccess(state, kind);
          if (state.role === 'primary') this.reporter.success();
          resolve(result);
        },
        (error: unknown) => {
          if (finished) return; // given up on already: the late failure is the closed connection's
          finished = true;
          clearTimeout(timer);
          this.reporter.timed(sql, kind, performance.now() - startedAt, true, request);
          this.afterError(client, state, error, sql, kind, unknownIfLost, inUnit, request);
          reject(error);
        },
      );
    });
  }

  private trackSuccess(state: PgClientState, kind: StatementKind): void {
    if (kind === 'begin') {
      state.inTransaction = true;
      state.wrote = false;
      state.transactionId = undefined;
      state.abortedBy = undefined;
    } else if (kind === 'commit' || kind === 'rollback') {
      state.inTransaction = false;
    } else if (kind !== 'read' && state.inTransaction) {
      state.wrote = true;
    }
  }

  /**
   * The statement outlived its deadline (a hung server, a lock held too long): stop waiting, close the client so
   * that it never goes back to the pool inside its transaction, and end its session on the server.
   */
  private expire(
    client: PgClient,
    state: PgClientState,
    ms: number,
    unknownIfLost: boolean,
    transactionId: string | undefined,
  ): DeadlineExceededError {
    const error = new DeadlineExceededError(ms, this.database);
    const pid = client.processID ?? undefined;
    if (unknownIfLost) markOutcomeUnknown(error, pid ?? null, transactionId);
    state.doomed = true;
    closeClient(client);
    this.terminate(pid);
    markDatabaseError(error, this.reporter.report(error));
    return error;
  }

  private afterError(
    client: PgClient,
    state: PgClientState,
    error: unknown,
    sql: string,
    kind: StatementKind,
    unknownIfLost: boolean,
    inUnit: boolean,
    request: RequestContext | undefined,
  ): void {
    let seen = state.role === 'primary' ? this.reporter.report(error) : this.reporter.classify(error);
    if (seen.sqlState === '40P01') this.onDeadlock(error, sql, client.processID ?? undefined);
    if (seen.sqlState === '25P02' && state.abortedBy) {
      seen = state.abortedBy; // the cause, not the consequence
      markAbortedBy(error, seen);
    }
    if (state.inTransaction) state.abortedBy ??= seen;
    if (kind === 'commit' || kind === 'rollback') state.inTransaction = false;
    const lost = seen.category === ErrorCategory.CONNECTION || seen.fatal === true;
    if (lost) state.onLost?.();
    if (lost || READ_ONLY_STATES.has(seen.sqlState ?? '') || seen.name === 'PG_QUERY_READ_TIMEOUT') {
      state.doomed = true;
      // pg's own query_timeout leaves the statement running and the transaction open: end the session.
      if (!lost) this.terminate(client.processID ?? undefined);
    }
    if (unknownIfLost && lost) markOutcomeUnknown(error, client.processID ?? null, lostTransactionOf(state, kind));
    const unknown = outcomeUnknownOf(error);
    const classified = unknown ? this.reporter.unknownOutcome(error, unknown.threadId) : seen;
    markDatabaseError(error, classified);
    if (!inUnit) this.reporter.recordOutsideUnit(classified, request);
  }
}

/** The id that settles a lost statement: its transaction's, for COMMIT only (an autocommit write has none). */
function lostTransactionOf(state: PgClientState, kind: StatementKind): string | undefined {
  return kind === 'commit' ? (state.transactionId ?? undefined) : undefined;
}

/** Closes a client at once, whatever its server does: no error event, its pending query rejected. */
export function closeClient(client: PgClient): void {
  const internals = client as unknown as {
    end?: () => Promise<void>;
    connection?: { stream?: { destroy?: () => void } };
  };
  try {
    internals.end?.().catch(() => undefined); // sets pg's "ending": the socket's end is not an error
    internals.connection?.stream?.destroy?.(); // a hung server would never answer the Terminate
  } catch {
    // already closed
  }
}
