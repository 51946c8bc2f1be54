import type { ResolvedResilienceOptions } from '../options/options.schema';
import { describeIssue, retryOptionsSchema } from '../options/options.schema';
import { ResilienceOptionsError } from '../options/resilience-options.error';
import type { RetryOptions, RetryPolicy } from './retry-options';

/**
 * The policy of one guarded call: its own retry options over the module's. `false` (or none, where the call
 * does not retry by default) means a single attempt. Bad values throw a ResilienceOptionsError naming them.
 */
export function retryPolicy(
  defaults: ResolvedResilienceOptions['retry'],
  given: RetryOptions | boolean | undefined,
  retryByDefault: boolean,
  where: string,
): RetryPolicy | null {
  if (given === false || (given === undefined && !retryByDefault)) return null;
  const own = typeof given === 'object' ? given : {};
  const { onRetry, idempotent, ...numbers } = own;
  const checked = retryOptionsSchema.safeParse({ ...defaults, ...numbers });
  if (!checked.success) {
    throw new ResilienceOptionsError(
      checked.error.issues.map((i) => `${where}: ${describeIssue(i, { retry: numbers }, ['retry'])}`),
    );
  }
  return { ...checked.data, idempotent: idempotent ?? false, onRetry };
}
