/**
 * `work` run once and its promise kept; a failure is not kept, so that the next call tries again (the idempotency
 * markers' table, made on first use).
 */
export function onceUntilFailure(work: () => Promise<unknown>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () =>
    (done ??= work().then(
      () => undefined,
      (error: unknown) => {
        done = undefined;
        throw error;
      },
    ));
}
