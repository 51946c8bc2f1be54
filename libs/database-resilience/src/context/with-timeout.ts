/**
 * `promise`'s value, or `undefined` once `ms` pass; `late` receives a value that comes after that (to give back
 * what was borrowed).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, late?: (value: T) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      resolve(undefined);
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (expired) late?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!expired) reject(error);
      },
    );
  });
}
