/** Thrown at start-up when `DatabaseResilienceModule` options are invalid. The message names every bad option. */
export class ResilienceOptionsError extends Error {
  override readonly name = 'ResilienceOptionsError';

  constructor(readonly problems: readonly string[]) {
    super(`DatabaseResilienceModule: invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
