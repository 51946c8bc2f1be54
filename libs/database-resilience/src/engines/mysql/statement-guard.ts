import type { ErrorClassifier } from '../../classification/error-classifier';
import { requestContext, type RequestContext } from '../../context/request-context';
import { unitOfWork } from '../../context/unit-of-work';
import { markDatabaseError, markOutcomeUnknown, outcomeUnknownOf } from '../../errors/database-error-marks';
import { DeadlineExceededError } from '../../errors/deadline-exceeded.error';
import { outcomeUnknownIfLost, trackFailure, trackSuccess, type ConnectionState } from './connection-state';
import type { Mysql2Connection } from './mysql2-connection';
import { withServerDeadline } from './statement-deadline';
import { statementOf, type StatementKind } from '../statement-kind';
import type { StatementReporter } from '../statement-reporter';
import { preciseWatch, type Watch, type Watchdog } from '../watchdog';

/**
 * The statement path of a guarded connection, for every statement: the caller's deadline (or the default
 * `queries.timeoutMs`) put on it, its outcome tracked (connection-state) and reported (StatementReporter), and a
 * statement past its deadline given up on: the connection destroyed, the statement killed on the server.
 * Callbacks and one closure per statement; no promise, no timer for the default bound (the watchdog).
 */
export class StatementGuard {
  constructor(
    private readonly database: string,
    private readonly statementTimeoutMs: number | null,
    private readonly watchdog: Watchdog,
    private readonly reporter: StatementReporter,
    private readonly classifier: ErrorClassifier,
    /** KILL QUERY by thread id, from another connection; never waited for. */
    private readonly kill: (threadId: number | null) => void,
  ) {}

  /** The watchdog's call when the statement watched on `state` outlived `queries.timeoutMs`. */
  expireRunning(connection: Mysql2Connection, state: ConnectionState): void {
    const fail = state.running!;
    state.running = undefined;
    this.expire(connection, state, this.statementTimeoutMs!, state.runningOutcomeUnknownIfLost, fail);
  }

  run(
    connection: Mysql2Connection,
    state: ConnectionState,
    query: Mysql2Connection['query'],
    args: unknown[],
  ): unknown {
    const callback = args[args.length - 1];
    const first = args[0] as string | { sql: string } | undefined;
    const sql = typeof first === 'string' ? first : first?.sql;
    if (typeof callback !== 'function' || typeof sql !== 'string') return query.apply(connection, args); // streams
    const { kind, data } = statementOf(sql);
    const unknownIfLost = outcomeUnknownIfLost(state, kind);
    // mysql2 calls back from its socket's events, in whatever async context the connection was made in:
    // what the statement belongs to is read here, at the call.
    const unit = unitOfWork.getStore();
    const request = requestContext.getStore();
    // Every statement of a caller with a deadline is bounded by it: START TRANSACTION, COMMIT and ROLLBACK too,
    // on a server that hangs they wait like any other.
    const deadline = unit?.deadline ?? request?.deadline;
    // `queries.timeoutMs`, for a data statement (or BEGIN / COMMIT / ROLLBACK) with no deadline of its own: a
    // hung server cannot hold a caller for ever. DDL (a migration's ALTER TABLE) is left alone.
    const timeoutMs = deadline === undefined && data ? this.statementTimeoutMs : null;

    let finished = false;
    let watch: Watch | undefined;
    let watchedOnState = false;
    const startedAt = performance.now();
    const done = (error: unknown, rows?: unknown, fields?: unknown) => {
      if (finished) return;
      finished = true;
      if (watch !== undefined) watch.cancel();
      else if (watchedOnState) {
        this.watchdog.delete(state);
        state.running = undefined;
      }
      this.reporter.timed(sql, kind, performance.now() - startedAt, Boolean(error), request);
      if (error) this.afterError(connection, state, error, kind, unknownIfLost, unit !== undefined, request);
      else {
        trackSuccess(state, kind);
        if (state.role === 'primary') this.reporter.success();
      }
      (callback as (...a: unknown[]) => void)(error, rows, fields);
    };

    const sent = args; // the wrapper's own rest array: changing it touches nothing of the caller's
    sent[args.length - 1] = done;
    if (deadline !== undefined) {
      const remainingMs = deadline.at - Date.now();
      if (remainingMs <= 0) {
        process.nextTick(done, new DeadlineExceededError(deadline.ms, this.database));
        return undefined;
      }
      if (kind === 'read' || kind === 'write') {
        const limited = withServerDeadline(connection, sql, kind, remainingMs);
        sent[0] = typeof first === 'string' ? limited : { ...first, sql: limited };
      }
      watch = preciseWatch(deadline.at, () => this.expire(connection, state, deadline.ms, unknownIfLost, done));
    } else if (timeoutMs !== null) {
      // The default timeout is enforced by the client alone (it kills the statement on the server too): the
      // statement goes out unchanged. A second statement queued on the same connection gets a watch of its own.
      if (state.running === undefined) {
        watchedOnState = true;
        state.at = Date.now() + timeoutMs;
        state.running = done;
        state.runningOutcomeUnknownIfLost = unknownIfLost;
        this.watchdog.add(state);
      } else {
        watch = this.watchdog.watch(Date.now() + timeoutMs, () =>
          this.expire(connection, state, timeoutMs, unknownIfLost, done),
        );
      }
    }
    return query.apply(connection, sent);
  }

  /**
   * A statement outlived its deadline; the server should have stopped it by now (hung, or a MySQL write): stop
   * waiting, drop the connection, stop the statement on the server.
   */
  private expire(
    connection: Mysql2Connection,
    state: ConnectionState,
    ms: number,
    unknownIfLost: boolean,
    done: (error: unknown) => void,
  ): void {
    const error = new DeadlineExceededError(ms, this.database);
    if (unknownIfLost) markOutcomeUnknown(error, connection.threadId);
    state.doomed = true;
    // Destroyed now, not after the KILL: on a hung server the KILL waits too, and a ROLLBACK sent on this
    // connection meanwhile would wait with it. The server's work is stopped by thread id, from elsewhere.
    const threadId = connection.threadId;
    connection.destroy();
    this.kill(threadId);
    done(error);
  }

  private afterError(
    connection: Mysql2Connection,
    state: ConnectionState,
    error: unknown,
    kind: StatementKind,
    unknownIfLost: boolean,
    inUnit: boolean,
    request: RequestContext | undefined,
  ): void {
    const seen = state.role === 'primary' ? this.reporter.report(error) : this.classifier.classify(error);
    trackFailure(state, connection.threadId, error, seen, kind, unknownIfLost);
    // The breaker heard what the server did (above); the caller hears what it means for the write.
    const unknown = outcomeUnknownOf(error);
    const classified = unknown ? this.reporter.unknownOutcome(error, unknown.threadId) : seen;
    markDatabaseError(error, classified);
    if (!inUnit) this.reporter.recordOutsideUnit(classified, request);
  }
}
