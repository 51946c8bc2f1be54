import type { JitterKind } from '../options/database-resilience-options';

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  jitter: JitterKind;
}

/**
 * The delay before retry number `retry` (1 = the first retry), exponential from `baseDelayMs`, capped at
 * `maxDelayMs`, spread by the jitter kind (as in AWS's "Exponential Backoff And Jitter"):
 * - none: base · 2^(n-1)
 * - full: uniform in [0, that]            (spreads colliding transactions the most; the default)
 * - equal: half of it, plus uniform in [0, half]
 * - decorrelated: uniform in [base, previous · 3]
 * Pure: `random` returns [0, 1).
 */
export function backoffDelay(
  policy: BackoffPolicy,
  retry: number,
  previousDelayMs: number,
  random: () => number = Math.random,
): number {
  const { baseDelayMs: base, maxDelayMs: cap } = policy;
  const exponential = Math.min(cap, base * 2 ** Math.min(retry - 1, 30));
  switch (policy.jitter) {
    case 'none':
      return exponential;
    case 'full':
      return Math.floor(random() * exponential);
    case 'equal':
      return Math.floor(exponential / 2 + random() * (exponential / 2));
    case 'decorrelated': {
      const upper = Math.max(base, (previousDelayMs || base) * 3);
      return Math.min(cap, Math.floor(base + random() * (upper - base)));
    }
  }
}
