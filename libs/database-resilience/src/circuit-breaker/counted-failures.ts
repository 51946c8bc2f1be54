/**
 * Failures the connection guard already reported to a breaker (and to which), so that the retry runner, which
 * sees the same error wrapped by TypeORM, does not count it twice in that breaker.
 */
const counted = new WeakMap<object, string>();

export function markCounted(error: unknown, breaker: string): void {
  if (typeof error === 'object' && error !== null) counted.set(error, breaker);
}

/** Whether `breaker` has counted this error already (or the error inside it). */
export function wasCounted(error: unknown, breaker: string): boolean {
  let layer: unknown = error;
  for (let depth = 0; depth < 4 && typeof layer === 'object' && layer !== null; depth++) {
    if (counted.get(layer) === breaker) return true;
    const record = layer as { driverError?: unknown; cause?: unknown };
    layer = record.driverError ?? record.cause;
  }
  return false;
}
