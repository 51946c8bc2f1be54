/**
 * The server is told to stop a statement this much before the caller's deadline (at most a quarter of the time
 * left), so that its own clean error usually comes first; the client stops waiting at the deadline itself.
 */
const SERVER_MARGIN_MS = 250;

/** The server-side limit, in ms, for a statement sent with `leftMs` to the deadline (every engine's). */
export function serverLimitOf(leftMs: number): number {
  return Math.max(1, Math.floor(leftMs - Math.min(SERVER_MARGIN_MS, leftMs / 4)));
}
