import { Catch, Inject, Injectable, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { CircuitOpenError } from '../circuit-breaker/circuit-open.error';
import { ErrorClassifier } from '../classification/error-classifier';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import { databaseErrorMarkOf } from '../errors/database-error-marks';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { resilienceDetailsOf } from '../retry/resilience-error-details';
import { AnyDatabaseError } from './database-error.matcher';
import { httpErrorFor } from './database-http-error';
import { routeOf } from './request-context.middleware';
import { requestIdFor } from './request-id';
import { ResilienceLogger } from '../events/resilience-logger';

/** The JSON body of a database error answer. Stable fields; never SQL, values or a stack. */
export interface DatabaseErrorBody {
  statusCode: number;
  error: string;
  /** Stable: DATABASE_UNAVAILABLE, DATABASE_CIRCUIT_OPEN, DATABASE_CONFLICT... (docs/OPERATIONS.md). */
  code: string;
  message: string;
  requestId: string;
  retryAfterSeconds?: number;
  /**
   * With DATABASE_COMMIT_OUTCOME_UNKNOWN: the key the unit of work was given (the client's own), whose marker
   * could not be read in time. Check whether the change was made before sending it again.
   */
  idempotencyKey?: string;
}

const REASONS: Record<number, string> = {
  409: 'Conflict',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * Registered app-wide by the module: database errors become HTTP answers (503 with Retry-After for an open
 * breaker, a lost or refused connection, a timeout, overload or a deadlock that outlived its retries; 409 for
 * integrity; 422 for bad data; 500 for schema, syntax, configuration and an unknown commit outcome). Only
 * database errors reach it (see AnyDatabaseError); HTTP transports only: other transports get the error unchanged.
 */
@Catch(AnyDatabaseError)
@Injectable()
export class DatabaseExceptionFilter implements ExceptionFilter {
  private readonly logger = new ResilienceLogger();

  constructor(
    private readonly classifier: ErrorClassifier,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const http = host.switchToHttp();
    const request = http.getRequest<Parameters<typeof routeOf>[0]>();
    const response = http.getResponse<unknown>();
    // The module's one decision about this error (the retry runner's when it gave up: an unknown commit stays
    // unknown even though a lost connection is inside it), else what the error says.
    const classified =
      databaseErrorMarkOf(error) ?? resilienceDetailsOf(error)?.classified ?? this.classifier.classify(error);
    const idempotencyKey = error instanceof CommitOutcomeUnknownError ? error.idempotencyKey : undefined;
    const answer = httpErrorFor(
      classified,
      this.options.http.retryAfterSeconds,
      error instanceof CircuitOpenError ? error.retryAfterMs : undefined,
    );
    const requestId = requestIdFor(request, this.options.http.requestIdHeader);
    const body: DatabaseErrorBody = {
      statusCode: answer.status,
      error: REASONS[answer.status] ?? 'Error',
      code: answer.code,
      message: answer.message,
      requestId,
      ...(answer.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: answer.retryAfterSeconds }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    const adapter = this.adapterHost.httpAdapter;
    if (answer.retryAfterSeconds !== undefined) {
      adapter.setHeader(response, 'Retry-After', String(answer.retryAfterSeconds));
    }
    adapter.setHeader(response, this.options.http.requestIdHeader, requestId);
    if (answer.status === 500) {
      // 503s are expected while a database is in trouble (and alerted on); a 500 is a bug or a setup mistake.
      this.logger.error(
        `${routeOf(request)} answered 500 ${answer.code}: ${classified.name} ` +
          `(${classified.message}) [request ${requestId}]`,
        {
          event: 'answered-500',
          database: resilienceDetailsOf(error)?.database,
          category: classified.category,
          code: answer.code,
          requestId,
        },
      );
    }
    adapter.reply(response, body, answer.status);
  }
}
