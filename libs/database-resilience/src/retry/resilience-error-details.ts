import type { ClassifiedError } from '../classification/classified-error';

/** What the module knew of an error it gave up on, attached to the original error as `resilience`. */
export interface ResilienceErrorDetails {
  readonly database: string;
  readonly operation: string | undefined;
  readonly attempts: number;
  readonly classified: ClassifiedError;
}

const KEY = 'resilience';

/** Attaches the details, not enumerable: they never leak into a JSON body by accident. */
export function attachDetails(error: unknown, details: ResilienceErrorDetails): void {
  if (typeof error !== 'object' || error === null || !Object.isExtensible(error)) return;
  try {
    Object.defineProperty(error, KEY, { value: details, enumerable: false, configurable: true, writable: true });
  } catch {
    // a frozen or exotic error: it goes out as it came
  }
}

/** The details the module attached to an error it let through, if any. */
export function resilienceDetailsOf(error: unknown): ResilienceErrorDetails | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { [KEY]?: ResilienceErrorDetails })[KEY];
}
