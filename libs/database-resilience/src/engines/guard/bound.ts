import { CheckTimeoutError } from '../check-timeout.error';

/** When one of the module's own statements must have its answer by, and the bound it was given (for the error). */
export interface Bound {
  readonly at: number;
  readonly ms: number;
}

export function boundFor(ms: number): Bound {
  return { at: Date.now() + ms, ms };
}

/** `opening` by the bound (else a CheckTimeoutError); what it gives later is handed to `late`. */
export function bounded<T>(opening: Promise<T>, bound: Bound, late: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      return true;
    };
    const timer = setTimeout(() => settle() && reject(new CheckTimeoutError(bound.ms)), bound.at - Date.now());
    opening.then(
      (value) => (settle() ? resolve(value) : late(value)),
      (error: unknown) => settle() && reject(error),
    );
  });
}
