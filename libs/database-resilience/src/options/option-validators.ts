import { z } from 'zod';
import type { ClassificationRule } from '../classification/classification-rule';
import { ErrorCategory } from '../classification/error-category.enum';
import { RecoveryAction } from '../classification/recovery-action.enum';
import { RetryScope } from '../classification/retry-scope.enum';
import { Severity } from '../classification/severity.enum';
import { isSharedStateStore, type SharedStateStore } from '../shared-state/shared-state-store';
import type { SharedStoreOptions } from './database-resilience-options';

/** The building blocks of the options schema: each says in its error what it accepts. */

export const integer = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
export const milliseconds = (min: number, max: number) => integer(min, max);
export const oneOf = <const T extends Record<string, string>>(values: T) =>
  z.enum(values, { error: `must be one of ${Object.values(values).join(', ')}` });

export const MATCHERS = ['errno', 'code', 'sqlState', 'message', 'test'] as const;
export const rule = z.custom<ClassificationRule>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    MATCHERS.some((m) => (value as Record<string, unknown>)[m] !== undefined) &&
    Object.values(ErrorCategory).includes((value as ClassificationRule).category) &&
    Object.values(Severity).includes((value as ClassificationRule).severity) &&
    Object.values(RecoveryAction).includes((value as ClassificationRule).action) &&
    ((value as ClassificationRule).scope === undefined ||
      Object.values(RetryScope).includes((value as ClassificationRule).scope as RetryScope)),
  {
    error:
      `must have at least one matcher (${MATCHERS.join(', ')}), a category (${Object.values(ErrorCategory).join(', ')}), ` +
      `a severity (${Object.values(Severity).join(', ')}) and an action (${Object.values(RecoveryAction).join(', ')})`,
  },
);

/** A URL with one of the schemes (`smtp`, `smtps`...); `error` says which. */
export const urlOf = (error: string, ...schemes: string[]) =>
  z.string({ error }).refine(
    (value) => {
      try {
        return schemes.includes(new URL(value).protocol.slice(0, -1));
      } catch {
        return false;
      }
    },
    { error },
  );
export const smtpUrl = urlOf('must be an smtp:// or smtps:// URL', 'smtp', 'smtps');
export const email = z.string({ error: 'must be an e-mail address' }).regex(/^[^\s@]+@[^\s@]+$/, {
  error: 'must be an e-mail address',
});

/** Where what instances share (breaker states, degradation resets, revoked sessions, the fleet view) lives. */
export const storeSettings = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('memory') }),
    z.strictObject({
      type: z.literal('redis'),
      url: urlOf('must be a redis:// or rediss:// URL', 'redis', 'rediss'),
      keyPrefix: z.string().min(1).max(100).default('db-resilience'),
      timeoutMs: milliseconds(10, 10_000).default(250),
      secret: z.string({ error: 'must be a string' }).min(32, { error: 'must be at least 32 characters' }).optional(),
      previousSecret: z
        .string({ error: 'must be a string' })
        .min(32, { error: 'must be at least 32 characters' })
        .optional(),
    }),
  ],
  { error: "must be { type: 'memory' } or { type: 'redis', url }" },
);

/** `sharedState.store`: a SharedStateStore of the app's own, or the settings of the module's. */
export const sharedStore = z
  .custom<SharedStoreOptions | SharedStateStore>(() => true)
  .optional()
  .transform((value, context) => {
    if (isSharedStateStore(value)) return value;
    const settings = storeSettings.safeParse(value ?? { type: 'memory' });
    if (settings.success) return settings.data;
    for (const issue of settings.error.issues) {
      // Neither kind (the discriminator's error): say what the option takes, at the option itself.
      if (issue.code === 'invalid_union') context.addIssue({ code: 'custom', message: SHARED_STORE_ERROR, path: [] });
      else context.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    }
    return z.NEVER;
  });
const SHARED_STORE_ERROR =
  "must be { type: 'memory' }, { type: 'redis', url } or a SharedStateStore (publish, subscribe, ready, storedStates, close, origin)";
