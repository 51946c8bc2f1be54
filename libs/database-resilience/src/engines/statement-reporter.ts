import type { ClassifiedError } from '../classification/classified-error';
import type { ErrorClassifier } from '../classification/error-classifier';
import { fingerprintSql } from '../classification/sql-fingerprint';
import type { CircuitBreaker } from '../circuit-breaker/circuit-breaker';
import type { RequestContext } from '../context/request-context';
import { nextUnitId } from '../context/unit-of-work';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { markCounted } from '../errors/database-error-marks';
import type { ResilienceEvents } from '../events/resilience-events';
import type { StatementKind } from './statement-kind';

/** Errors the module makes itself that say nothing of how the server is doing: neither a failure nor a success. */
const SAYS_NOTHING_OF_THE_SERVER = new Set(['CIRCUIT_OPEN', 'DEADLINE_EXCEEDED']);

/** The longest silence of the server that a deadline may have met without counting as the server's failure. */
const SILENCE_MS = 2000;

/**
 * What the guard tells about statements: their time (a `query` event, a `slow-query` one past
 * `queries.slowQueryMs`), the server's health to the breaker, and the failures no unit of work will record.
 */
export class StatementReporter {
  /** When the server last answered a statement of this database (a result or a server error). */
  private lastAnswerAt = 0;

  constructor(
    private readonly database: string,
    private readonly classifier: ErrorClassifier,
    private readonly breaker: CircuitBreaker,
    private readonly events: ResilienceEvents,
    private readonly slowQueryMs: number,
  ) {}

  timed(sql: string, kind: StatementKind, durationMs: number, failed: boolean, request: RequestContext | undefined) {
    if (this.events.wantsQueries) {
      this.events.emit({ type: 'query', at: Date.now(), database: this.database, kind, durationMs, failed });
    }
    if (durationMs < this.slowQueryMs) return;
    this.events.emit({
      type: 'slow-query',
      at: Date.now(),
      database: this.database,
      fingerprint: fingerprintSql(sql),
      durationMs,
      requestId: request?.requestId,
      route: request?.route,
    });
  }

  /**
   * Tells the breaker how the server did: unwell (connection, overload...) or answering (even with an error).
   * A deadline that ran out says "unwell" only when the server has answered nothing for the last half of it
   * (at most {@link SILENCE_MS}): a hung server answers nobody, while under lock contention or a queue for the
   * pool other statements keep getting answers, and a breaker opened then would turn away a healthy server's work.
   * `countsUnwell` false: the failure says nothing of the server now (a connection to a writer that was replaced).
   */
  report(error: unknown, classified = this.classifier.classify(error), countsUnwell = true): ClassifiedError {
    if (classified.serverUnwell || (classified.name === 'DEADLINE_EXCEEDED' && this.silentDuring(error))) {
      // A stale connection's failure (a writer failover) is accounted for here, not counted: the retry runner
      // must not count it either.
      if (countsUnwell) this.breaker.failure();
      markCounted(error, this.breaker.name);
    } else if (!SAYS_NOTHING_OF_THE_SERVER.has(classified.name)) {
      this.success();
    }
    return classified;
  }

  private silentDuring(error: unknown): boolean {
    const deadlineMs = error instanceof DeadlineExceededError ? error.deadlineMs : 0;
    return Date.now() - this.lastAnswerAt > Math.min(SILENCE_MS, deadlineMs / 2);
  }

  /** What the error means, without telling the breaker (replicas, errors the module makes itself). */
  classify(error: unknown): ClassifiedError {
    return this.classifier.classify(error);
  }

  success(): void {
    this.lastAnswerAt = Date.now();
    this.breaker.success();
  }

  /** The server answered, but the answer says nothing of what the breaker guards (a read while no writer is known). */
  answered(): void {
    this.lastAnswerAt = Date.now();
  }

  /** What a failure whose write may or may not have been applied means: never a plain "connection lost". */
  unknownOutcome(error: unknown, sessionId: number | undefined): ClassifiedError {
    return this.classifier.classify(
      new CommitOutcomeUnknownError({ database: this.database, sessionId, cause: error }),
    );
  }

  /**
   * Inside a unit of work the retry runner records what the caller finally gets; outside one (a plain
   * repository call, `DataSource.query`, TypeORM's own transaction) nobody would, so the guard does.
   */
  recordOutsideUnit(classified: ClassifiedError, request: RequestContext | undefined): void {
    if (classified.name === 'REQUEST_CANCELLED') {
      const { requestId, route } = request ?? {};
      this.events.emit({
        type: 'request-cancelled',
        at: Date.now(),
        database: this.database,
        operation: undefined,
        requestId,
        route,
      });
      return;
    }
    this.events.emit({
      type: 'attempt-failed',
      at: Date.now(),
      unitId: nextUnitId(),
      database: this.database,
      operation: undefined,
      requestId: request?.requestId,
      route: request?.route,
      attempt: 1,
      error: classified,
      willRetry: false,
    });
  }
}
