import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { requestContext, type RequestContext } from '../context/request-context';
import { requestIdFor } from './request-id';
import { ResilienceLogger } from '../events/resilience-logger';

interface HttpRequest {
  method?: string;
  /** Express: the matched route, known once routing has run. */
  route?: { path?: string };
  /** Fastify: the matched route. */
  routeOptions?: { url?: string };
}

interface HttpResponse {
  setHeader?(name: string, value: string): void;
  header?(name: string, value: string): void;
  once(event: 'finish' | 'close', listener: () => void): void;
  /** Node's: the whole answer was handed to the socket. */
  readonly writableFinished?: boolean;
}

/** `GET /accounts/:id`: the route pattern, never the URL (bounded, and free of values). */
export function routeOf(request: HttpRequest): string {
  return `${request.method ?? ''} ${request.route?.path ?? request.routeOptions?.url ?? '?'}`;
}

/**
 * Applied by the module to every route (a Nest middleware, not an interceptor: any interceptor sends each
 * request through Nest's RxJS pipeline, which measured +30 % on a one-`SELECT 1` request; see BENCHMARKS.md).
 * Gives each request an id (kept from `http.requestIdHeader` if safe, echoed back); carries the id, the route
 * pattern and the request's deadline (`http.requestDeadlineMs`) to the statements it runs and the errors
 * recorded meanwhile; stops its statements when the client goes away before the answer; logs and counts requests
 * slower than `http.slowRequestMs`.
 */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  private readonly logger = new ResilienceLogger();

  constructor(
    private readonly events: ResilienceEvents,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  use(request: HttpRequest, response: HttpResponse, next: () => void): void {
    const { requestIdHeader, slowRequestMs, requestDeadlineMs } = this.options.http;
    const requestId = requestIdFor(request, requestIdHeader);
    if (typeof response.setHeader === 'function') response.setHeader(requestIdHeader, requestId);
    else response.header?.(requestIdHeader, requestId);
    const startedAt = performance.now();
    // The client going away before its answer (a proxy's timeout, a closed page) stops the request's statements.
    const cancel = new AbortController();
    response.once('close', () => {
      if (response.writableFinished === false) cancel.abort();
    });
    const context: RequestContext = {
      requestId,
      get route() {
        return routeOf(request); // read late: the route is matched after middleware
      },
      deadline: requestDeadlineMs === null ? undefined : { at: Date.now() + requestDeadlineMs, ms: requestDeadlineMs },
      signal: cancel.signal,
    };
    response.once('finish', () => {
      const durationMs = performance.now() - startedAt;
      if (durationMs < slowRequestMs) return;
      const route = routeOf(request);
      this.logger.warn(`Slow request: ${route} took ${Math.round(durationMs)} ms [request ${requestId}]`, {
        event: 'slow-request',
        route,
        requestId,
        durationMs: Math.round(durationMs),
      });
      this.events.emit({ type: 'slow-request', at: Date.now(), route, requestId, durationMs });
    });
    requestContext.run(context, next);
  }
}
