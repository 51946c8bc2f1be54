import {
  Inject,
  Injectable,
  Logger,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { finalize, type Observable } from 'rxjs';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../resilience-options.token';
import { requestContext } from './request-context';
import { requestIdFor } from './request-id';

interface HttpRequest {
  method?: string;
  /** Express: the matched route. */
  route?: { path?: string };
  /** Fastify: the matched route. */
  routeOptions?: { url?: string };
}

/**
 * Registered app-wide by the module: gives each HTTP request an id (kept from `http.requestIdHeader` if safe,
 * echoed back), carries the id, the route pattern and the request's deadline (`http.requestDeadlineMs`) to the
 * statements it runs and the errors recorded meanwhile, and logs and counts
 * requests slower than `http.slowRequestMs`. It changes nothing in what the handler returns or throws.
 */
@Injectable()
export class DatabaseResilienceInterceptor implements NestInterceptor {
  private readonly logger = new Logger('DatabaseResilience');

  constructor(
    private readonly events: ResilienceEvents,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequest>();
    const { requestIdHeader, slowRequestMs, requestDeadlineMs } = this.options.http;
    const requestId = requestIdFor(request, requestIdHeader);
    setHeader(http.getResponse(), requestIdHeader, requestId);
    const route = `${request.method ?? ''} ${request.route?.path ?? request.routeOptions?.url ?? '?'}`;
    const startedAt = performance.now();
    const deadline =
      requestDeadlineMs === null ? undefined : { at: Date.now() + requestDeadlineMs, ms: requestDeadlineMs };
    return requestContext
      .run({ requestId, route, deadline }, () => next.handle())
      .pipe(
        finalize(() => {
          const durationMs = performance.now() - startedAt;
          if (durationMs < slowRequestMs) return;
          this.logger.warn(`Slow request: ${route} took ${Math.round(durationMs)} ms [request ${requestId}]`);
          this.events.emit({ type: 'slow-request', at: Date.now(), route, requestId, durationMs });
        }),
      );
  }
}

/** Express responses have setHeader, Fastify replies header. */
function setHeader(response: unknown, name: string, value: string): void {
  const target = response as { setHeader?(n: string, v: string): void; header?(n: string, v: string): void };
  if (typeof target.setHeader === 'function') target.setHeader(name, value);
  else target.header?.(name, value);
}
