import type { ClassifiedError } from '../classification/classified-error';

/**
 * Errors the connection guard saw come out of a guarded DataSource, with their classification: the exception
 * filter knows them for database errors (even raw driver errors TypeORM does not wrap) without classifying twice.
 */
const marks = new WeakMap<object, ClassifiedError>();

export function markDatabaseError(error: unknown, classified: ClassifiedError): void {
  if (typeof error === 'object' && error !== null) marks.set(error, classified);
}

/** The classification the guard gave this error (or the driver error inside it), if it saw it. */
export function databaseErrorMarkOf(error: unknown): ClassifiedError | undefined {
  let layer: unknown = error;
  for (let depth = 0; depth < 4 && typeof layer === 'object' && layer !== null; depth++) {
    const mark = marks.get(layer);
    if (mark) return mark;
    const record = layer as { driverError?: unknown; cause?: unknown };
    layer = record.driverError ?? record.cause;
  }
  return undefined;
}
