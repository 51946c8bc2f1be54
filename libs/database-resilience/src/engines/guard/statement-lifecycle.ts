import { requestContext, type RequestContext } from '../../context/request-context';
import { unitOfWork } from '../../context/unit-of-work';
import { ErrorCategory } from '../../classification/error-category.enum';
import { markDatabaseError, markOutcomeUnknown, outcomeUnknownOf } from '../../errors/database-error-marks';
import { DeadlineExceededError } from '../../errors/deadline-exceeded.error';
import { RequestCancelledError } from '../../errors/request-cancelled.error';
import { statementOf, type StatementKind } from '../statement-kind';
import type { StatementReporter } from '../statement-reporter';
import { preciseWatch, type Watch, type Watchdog } from '../watchdog';
import { lostTransactionOf, outcomeUnknownIfLost, trackSuccess, type ConnectionState } from './connection-state';
import type { DriverAdapter, DriverCallback, GuardedConnection } from './driver-adapter';
import type { WriterFailover } from './writer-failover';
import type { ServerSession } from './server-sessions';

/**
 * The statement path of every guarded connection, for every engine: the caller's deadline (or the default
 * `queries.timeoutMs`) on each statement, its outcome tracked and reported once — to the breaker for a primary's
 * connection only, to the error history when no unit of work will record it — and a statement past its deadline
 * given up on: the connection closed (never pooled inside its transaction), the statement stopped on the server
 * from another connection. Callbacks and one closure per statement; no promise, and no timer for the default
 * bound (the watchdog).
 */
export class StatementLifecycle<C extends GuardedConnection> {
  constructor(
    private readonly database: string,
    private readonly statementTimeoutMs: number | null,
    private readonly watchdog: Watchdog,
    private readonly reporter: StatementReporter,
    private readonly adapter: DriverAdapter<C, unknown>,
    /** Stops a session's statement from another connection; never waited for. */
    private readonly stopStatement: (session: ServerSession | undefined) => void,
    private readonly failover: WriterFailover,
  ) {}

  /** The watchdog's call when the statement watched on `state` outlived `queries.timeoutMs`. */
  expireRunning(connection: C, state: ConnectionState): void {
    const fail = state.running!;
    state.running = undefined;
    this.expire(
      connection,
      state,
      this.statementTimeoutMs!,
      state.runningOutcomeUnknownIfLost,
      state.runningKind,
      fail,
    );
  }

  /** Sends `args` (a driver callback last) through `state.rawQuery`, guarded. */
  run(connection: C, state: ConnectionState, sql: string, args: unknown[]): unknown {
    const callback = args[args.length - 1] as DriverCallback;
    const { kind, data } = statementOf(sql);
    const unknownIfLost = outcomeUnknownIfLost(state, kind);
    // Drivers call back from their socket's events, in whatever async context the connection was made in:
    // what the statement belongs to is read here, at the call.
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    // Every statement of a caller with a deadline is bounded by it: BEGIN, COMMIT and ROLLBACK too.
    const deadline = unit?.deadline ?? request?.deadline;
    // `queries.timeoutMs`, for a data statement (or BEGIN / COMMIT / ROLLBACK) with no deadline of its own: a
    // hung server cannot hold a caller for ever. DDL (a migration's ALTER TABLE) is left alone.
    const timeoutMs = deadline === undefined && data ? this.statementTimeoutMs : null;

    // The caller's signal (its HTTP client gone, or aborted by hand) stops the statement, and any that follows.
    const signal = unit?.signal ?? request?.signal;
    if (signal?.aborted) {
      const error = new RequestCancelledError(this.database);
      if (kind === 'rollback') {
        // Not sent, not recorded again: the connection is destroyed at release, and the server rolls back.
        state.doomed = true;
        process.nextTick(() => callback(error));
      } else process.nextTick(() => callback(this.failWith(error, unit !== undefined)));
      return undefined;
    }

    let finished = false;
    let watch: Watch | undefined;
    let watchedOnState = false;
    let onAbort: (() => void) | undefined;
    const startedAt = performance.now();
    // Drivers answer with at most two results (mysql2: rows and fields; pg: the result): no rest array.
    const done: DriverCallback = (error, rows?: unknown, fields?: unknown) => {
      if (finished) return; // given up on already: the late answer is the closed connection's
      finished = true;
      if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
      if (watch !== undefined) watch.cancel();
      else if (watchedOnState) {
        this.watchdog.delete(state);
        state.running = undefined;
      }
      this.reporter.timed(sql, kind, performance.now() - startedAt, Boolean(error), request);
      if (error) this.afterError(connection, state, error, sql, kind, unknownIfLost, unit !== undefined, request);
      else {
        trackSuccess(state, kind, sql);
        if (state.role === 'primary') {
          if (kind === 'write' || kind === 'commit') {
            this.reporter.success();
            this.failover.wrote(state);
            if (request !== undefined) request.wroteAt = Date.now(); // its reads go to the primary for a while
          } else if (this.failover.awaitingWritable)
            this.reporter.answered(); // a read-only server answers reads
          else this.reporter.success();
        }
      }
      callback(error, rows, fields);
    };

    const sent = args; // the wrapper's own rest array: changing it touches nothing of the caller's
    sent[args.length - 1] = done;
    if (signal !== undefined) {
      onAbort = () =>
        this.giveUp(connection, state, new RequestCancelledError(this.database), unknownIfLost, kind, done);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    if (deadline !== undefined) {
      const remainingMs = deadline.at - Date.now();
      if (remainingMs <= 0) {
        // Never sent: the transaction is as it was (a ROLLBACK refused leaves it open: the connection is then
        // destroyed at release, and the server rolls the transaction back).
        const error = new DeadlineExceededError(deadline.ms, this.database);
        process.nextTick(() => callback(this.failWith(error, unit !== undefined)));
        return undefined;
      }
      if (kind === 'read' || kind === 'write') {
        const limited = this.adapter.withServerLimit(connection, sql, kind, remainingMs);
        if (limited !== sql) sent[0] = typeof sent[0] === 'string' ? limited : { ...(sent[0] as object), sql: limited };
      }
      watch = preciseWatch(deadline.at, () => this.expire(connection, state, deadline.ms, unknownIfLost, kind, done));
    } else if (timeoutMs !== null) {
      // The default timeout is enforced by the client alone (it stops the statement on the server too): the
      // statement goes out unchanged. A second statement queued on the same connection gets a watch of its own.
      if (state.running === undefined) {
        watchedOnState = true;
        state.at = Date.now() + timeoutMs;
        state.running = done;
        state.runningOutcomeUnknownIfLost = unknownIfLost;
        state.runningKind = kind;
        this.watchdog.add(state);
      } else {
        watch = this.watchdog.watch(Date.now() + timeoutMs, () =>
          this.expire(connection, state, timeoutMs, unknownIfLost, kind, done),
        );
      }
    }
    return state.rawQuery.apply(connection, sent);
  }

  /**
   * A statement outlived its deadline; the server should have stopped it by now (hung, or no server-side limit):
   * stop waiting, close the connection now (on a hung server a ROLLBACK sent on it would wait too, and it must
   * never go back to the pool inside its transaction), and stop the statement on the server from elsewhere.
   */
  private expire(
    connection: C,
    state: ConnectionState,
    ms: number,
    unknownIfLost: boolean,
    kind: StatementKind,
    done: DriverCallback,
  ): void {
    this.giveUp(connection, state, new DeadlineExceededError(ms, this.database), unknownIfLost, kind, done);
  }

  /** Stops waiting for the statement with `error`: the connection closed, the statement stopped on the server. */
  private giveUp(
    connection: C,
    state: ConnectionState,
    error: Error,
    unknownIfLost: boolean,
    kind: StatementKind,
    done: DriverCallback,
  ): void {
    if (unknownIfLost) markOutcomeUnknown(error, this.adapter.session(connection), lostTransactionOf(state, kind));
    state.doomed = true;
    this.abandon(connection);
    done(error);
  }

  /** Stops the connection's statement on the server and closes the connection, in the order the engine needs. */
  private abandon(connection: C): void {
    if (this.adapter.abandon?.(connection)) return;
    this.adapter.close(connection);
    this.stopStatement(this.adapter.session(connection));
  }

  private afterError(
    connection: C,
    state: ConnectionState,
    error: unknown,
    sql: string,
    kind: StatementKind,
    unknownIfLost: boolean,
    inUnit: boolean,
    request: RequestContext | undefined,
  ): void {
    const raw = this.reporter.classify(error);
    const seen = this.adapter.interpret ? this.adapter.interpret(connection, state, error, raw, sql) : raw;
    if (state.inTransaction) state.firstFailure ??= seen;
    if (kind === 'commit' || kind === 'rollback') state.inTransaction = false;
    const fate = this.adapter.fateOf(error, seen);
    // A node that refuses every session (Galera out of the primary component) is met as a lost one: the connections
    // that may lead to it are evicted; nothing was applied.
    const lost = fate === 'lost' || fate === 'lost-before-sending' || fate === 'refused';
    const readOnly = seen.category === ErrorCategory.READ_ONLY;
    if (state.role === 'primary') {
      // The breaker hears what the primary's server did (a replica's failures are not the primary's); a read-only
      // answer or a lost session first evicts the connections that may lead to a replaced writer.
      const counts = !(readOnly || lost) || this.failover.failed(state, readOnly ? 'read-only' : 'lost');
      this.reporter.report(error, raw, counts);
    }
    if (lost) state.onLost?.();
    if (fate !== undefined || readOnly) state.doomed = true;
    if (fate === 'abandoned') this.abandon(connection);
    // A refused COMMIT too: one in flight when its node was cut off has been seen applied (its write-set had left).
    if (unknownIfLost && (fate === 'lost' || fate === 'refused')) {
      markOutcomeUnknown(error, this.adapter.session(connection), lostTransactionOf(state, kind));
    }
    // The breaker heard what the server did (above); the caller hears what it means for the write.
    const unknown = outcomeUnknownOf(error);
    const classified = unknown ? this.reporter.unknownOutcome(error, unknown.sessionId) : seen;
    markDatabaseError(error, classified);
    if (!inUnit) this.reporter.recordOutsideUnit(classified, request);
  }

  /**
   * A failure that says nothing of how the server is doing — a statement refused before it was sent, a COMMIT
   * answered ROLLBACK — marked and recorded, not told to the breaker; returns the error.
   */
  failWith<E>(error: E, inUnit: boolean): E {
    const classified = this.reporter.classify(error);
    markDatabaseError(error, classified);
    if (!inUnit) this.reporter.recordOutsideUnit(classified, requestContext.getStore());
    return error;
  }
}
