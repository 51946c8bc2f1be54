const SETTLED = Promise.resolve();

/**
 * A promise that rejects one microtask later, once the caller has attached its handler: a promise already rejected
 * when returned goes through Node's unhandled-rejection bookkeeping (a WeakMap entry made, then deleted when the
 * caller's `await` or `.catch()` arrives), which cost an open breaker's rejection more than all the rest.
 */
export function rejectLater(error: unknown): Promise<never> {
  return new Promise((_, reject) => {
    void SETTLED.then(() => reject(error)); // rejected, not thrown: a throw costs more than the rest of the path
  });
}

/** `work()` as a promise, whatever it returns or throws (execute() passes the caller's function as it is). */
export function startWork<T>(work: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}
