import { randomUUID } from 'node:crypto';

const REQUEST_ID = Symbol('database-resilience.request-id');
/** An incoming id is kept only if it is this plain: it ends up in logs and bodies. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface IncomingRequest {
  headers?: Record<string, string | string[] | undefined>;
  [REQUEST_ID]?: string;
}

/** The request's id: the one it came with (in `header`) if safe, else a new UUID; the same on every call. */
export function requestIdFor(request: unknown, header: string): string {
  const incoming = request as IncomingRequest;
  const known = incoming[REQUEST_ID];
  if (known !== undefined) return known;
  const given = incoming.headers?.[header];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  incoming[REQUEST_ID] = id;
  return id;
}
