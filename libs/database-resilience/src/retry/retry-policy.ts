import type { ResolvedResilienceOptions } from '../options/options.schema';
import { optionsSchema, retryOptionsSchema } from '../options/options.schema';
import { describeIssue } from '../options/options-issues';
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
      checked.error.issues.map((i) => `${where}: ${describeIssue(i, numbers, optionsSchema, ['retry'])}`),
    );
  }
  return { ...checked.data, idempotent: idempotent ?? false, onRetry };
}

/**
 * Policies for calls that pass their retry options at each call: resolved and checked once per options object
 * (callers usually pass the same constant), not on every call.
 */
export class RetryPolicies {
  private readonly byOptions = new WeakMap<RetryOptions, RetryPolicy>();
  private moduleDefault?: RetryPolicy;

  constructor(private readonly defaults: ResolvedResilienceOptions['retry']) {}

  of(given: RetryOptions | boolean | undefined, retryByDefault: boolean, where: string): RetryPolicy | null {
    if (given === false || (given === undefined && !retryByDefault)) return null;
    if (typeof given !== 'object') return (this.moduleDefault ??= retryPolicy(this.defaults, {}, true, where)!);
    let policy = this.byOptions.get(given);
    if (!policy) {
      policy = retryPolicy(this.defaults, given, true, where)!;
      this.byOptions.set(given, policy);
    }
    return policy;
  }
}
