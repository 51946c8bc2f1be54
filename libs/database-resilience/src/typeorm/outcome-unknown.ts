/**
 * Driver errors after which nobody knows whether a write was applied: the connection failed while COMMIT, or
 * a write outside a transaction, was in flight. The connection guard marks them; the retry runner never
 * retries them blindly.
 */
const outcomeUnknown = new WeakMap<object, { threadId: number | undefined }>();

export function markOutcomeUnknown(error: unknown, threadId: number | null): void {
  if (typeof error === 'object' && error !== null) outcomeUnknown.set(error, { threadId: threadId ?? undefined });
}

/** The mark of `error` or of the driver error inside it (TypeORM's QueryFailedError keeps it in `driverError`). */
export function outcomeUnknownOf(error: unknown): { threadId: number | undefined } | undefined {
  let layer: unknown = error;
  for (let depth = 0; depth < 4 && typeof layer === 'object' && layer !== null; depth++) {
    const mark = outcomeUnknown.get(layer);
    if (mark) return mark;
    const record = layer as { driverError?: unknown; cause?: unknown };
    layer = record.driverError ?? record.cause;
  }
  return undefined;
}
