import { AsyncLocalStorage } from 'node:async_hooks';

/** The HTTP request the current code serves, set by the module's interceptor. */
export interface RequestContext {
  readonly requestId: string;
  /** The route pattern (`GET /accounts/:id`), never the URL: bounded, and free of values. */
  readonly route: string;
  /** From `http.requestDeadlineMs`: statements of this request without a deadline of their own get this one. */
  readonly deadline?: { readonly at: number; readonly ms: number };
  /** Aborted when the HTTP client goes away before its answer: the request's statements are stopped. */
  readonly signal?: AbortSignal;
  /** When a statement of this request last wrote on the primary: its reads go there for `failover.readYourWritesMs`. */
  wroteAt?: number;
}

/** Carried across awaits, so that errors recorded deep in a query are tagged with their request and route. */
export const requestContext = new AsyncLocalStorage<RequestContext>();
