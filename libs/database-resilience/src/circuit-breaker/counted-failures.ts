/**
 * Failures the connection guard already reported to a breaker, so that the retry runner, which sees the same
 * error wrapped by TypeORM, does not count it twice.
 */
const counted = new WeakSet<object>();

export function markCounted(error: unknown): void {
  if (typeof error === 'object' && error !== null) counted.add(error);
}

export function wasCounted(error: unknown): boolean {
  let layer: unknown = error;
  for (let depth = 0; depth < 4 && typeof layer === 'object' && layer !== null; depth++) {
    if (counted.has(layer)) return true;
    const record = layer as { driverError?: unknown; cause?: unknown };
    layer = record.driverError ?? record.cause;
  }
  return false;
}
