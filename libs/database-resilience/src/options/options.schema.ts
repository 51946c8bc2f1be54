import { z } from 'zod';
import { email, integer, milliseconds, oneOf, rule, sharedStore, smtpUrl, storeSettings } from './option-validators';
import { ErrorCategory } from '../classification/error-category.enum';
import { Severity } from '../classification/severity.enum';
import type { AlertCallback } from '../events/alert';
import type { AdminAuthorize } from './admin-authorize';
import type { DatabaseResilienceOptions } from './database-resilience-options';
import { ResilienceOptionsError } from './resilience-options.error';
import { describeIssue } from './options-issues';
import { movedOptions } from './moved-options';
import { isSharedStateStore } from '../shared-state/shared-state-store';

/** The module's `retry` options; each guarded call's own are checked against it too. */
export const retryOptionsSchema = z
  .strictObject({
    maxAttempts: integer(1, 100).default(3),
    baseDelayMs: milliseconds(0, 60_000).default(50),
    maxDelayMs: milliseconds(1, 600_000).default(2000),
    jitter: oneOf({ full: 'full', equal: 'equal', decorrelated: 'decorrelated', none: 'none' }).default('full'),
    budgetMs: milliseconds(1, 3_600_000).default(10_000),
    retryOn: z
      .array(oneOf(ErrorCategory), {
        error: `must be a list of categories (${Object.values(ErrorCategory).join(', ')})`,
      })
      .optional(),
  })
  .refine((r) => r.baseDelayMs <= r.maxDelayMs, {
    error: 'baseDelayMs must not exceed maxDelayMs',
    path: ['baseDelayMs'],
  });

export const optionsSchema = z.strictObject({
  databases: z
    .array(z.string().min(1, { error: 'must be a non-empty DataSource name' }), {
      error: 'must be a list of DataSource names',
    })
    .min(1, { error: 'must name at least one DataSource' })
    .default(['default']),
  classifier: z.strictObject({ rules: z.array(rule, { error: 'must be a list of rules' }).default([]) }).prefault({}),
  retry: retryOptionsSchema.prefault({}),
  circuitBreaker: z
    .strictObject({
      failureThreshold: integer(1, 10_000).default(5),
      recoveryTimeoutMs: milliseconds(1, 86_400_000).default(60_000),
      firstProbeAfterMs: milliseconds(1, 86_400_000).nullable().default(1_000),
      halfOpenMaxProbes: integer(1, 1000).default(1),
      successThreshold: integer(1, 1000).default(1),
      failureRateThreshold: z
        .number({ error: 'must be a number above 0 and at most 1' })
        .gt(0, { error: 'must be a number above 0 and at most 1' })
        .max(1, { error: 'must be a number above 0 and at most 1' })
        .default(0.5),
      minimumCalls: integer(1, 1_000_000).default(10),
      windowMs: milliseconds(100, 3_600_000).default(10_000),
      probe: oneOf({ request: 'request', background: 'background' } as const).default('request'),
      /** Moved to `sharedState.store` (still read, with a start-up warning). */
      store: storeSettings.optional(),
    })
    .prefault({}),
  sharedState: z
    .strictObject({
      store: sharedStore,
    })
    .prefault({}),
  pool: z
    .strictObject({
      acquireTimeoutMs: milliseconds(1, 600_000).default(10_000),
      validateAfterIdleMs: milliseconds(0, 86_400_000).nullable().default(5_000),
      validationTimeoutMs: milliseconds(1, 60_000).default(2_000),
    })
    .prefault({}),
  failover: z
    .strictObject({
      replicaRetryMs: milliseconds(10, 3_600_000).default(5_000),
      maxLagMs: milliseconds(0, 86_400_000).nullable().default(null),
      lagCheckIntervalMs: milliseconds(100, 3_600_000).default(1_000),
      readYourWritesMs: milliseconds(0, 3_600_000).default(5_000),
    })
    .prefault({}),
  idempotency: z
    .strictObject({
      table: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: 'must be a plain table name (letters, digits, _)' })
        .default('resilience_idempotency_keys'),
      settleTimeoutMs: milliseconds(1, 600_000).default(10_000),
    })
    .prefault({}),
  queries: z
    .strictObject({
      slowQueryMs: milliseconds(1, 3_600_000).default(1000),
      timeoutMs: milliseconds(10, 86_400_000).nullable().default(30_000),
      slowQueryLogSize: integer(1, 100_000).default(200),
    })
    .prefault({}),
  http: z
    .strictObject({
      slowRequestMs: milliseconds(1, 3_600_000).default(3000),
      requestDeadlineMs: milliseconds(10, 3_600_000).nullable().default(30_000),
      retryAfterSeconds: integer(1, 86_400).default(5),
      requestIdHeader: z
        .string()
        .regex(/^[a-z0-9-]{1,64}$/, { error: 'must be a lower-case header name' })
        .default('x-request-id'),
    })
    .prefault({}),
  healthCheck: z
    .strictObject({
      enabled: z.boolean({ error: 'must be true or false' }).default(true),
      intervalMs: milliseconds(100, 86_400_000).default(10_000),
      timeoutMs: milliseconds(10, 600_000).default(2_000),
    })
    .refine((h) => h.timeoutMs < h.intervalMs, { error: 'must be below healthCheck.intervalMs', path: ['timeoutMs'] })
    .prefault({}),
  history: z.strictObject({ maxEntries: integer(1, 1_000_000).default(1000) }).prefault({}),
  deadlocks: z
    .strictObject({
      clusterThreshold: integer(1, 100_000).default(5),
      clusterWindowMs: milliseconds(1000, 86_400_000).default(300_000),
      serverReport: z.boolean({ error: 'must be true or false' }).default(true),
      serverReportMinIntervalMs: milliseconds(0, 3_600_000).default(10_000),
      /** Moved to `serverReport` / `serverReportMinIntervalMs` (still read, with a start-up warning). */
      innodbStatus: z.boolean({ error: 'must be true or false' }).optional(),
      innodbStatusMinIntervalMs: milliseconds(0, 3_600_000).optional(),
      maxFingerprints: integer(1, 100_000).default(500),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      fleetGatherMs: milliseconds(0, 60_000).default(1000),
      minSeverity: oneOf(Severity).default(Severity.CRITICAL),
      errorsPerMinute: integer(1, 1_000_000).default(10),
      cooldownMs: milliseconds(0, 86_400_000).default(300_000),
      channelTimeoutMs: milliseconds(1, 120_000).default(5_000),
      log: z.boolean({ error: 'must be true or false' }).default(true),
      callbacks: z
        .array(
          z.custom<AlertCallback>((value) => typeof value === 'function', { error: 'must be a function' }),
          { error: 'must be a list of functions' },
        )
        .default([]),
      email: z
        .strictObject({
          smtpUrl,
          from: email,
          to: z.array(email, { error: 'must be a list of e-mail addresses' }).min(1, {
            error: 'must list at least one address',
          }),
          subjectPrefix: z.string().max(100).default('[db-resilience]'),
        })
        .optional(),
    })
    .prefault({}),
  degradation: z
    .strictObject({
      onBreakerOpen: z.boolean({ error: 'must be true or false' }).default(true),
      errorsPerMinute: integer(1, 1_000_000).nullable().default(null),
      healthyPeriodMs: milliseconds(0, 86_400_000).default(30_000),
    })
    .prefault({}),
  admin: z
    .strictObject({
      token: z
        .string({ error: 'must be a string of at least 16 characters' })
        .min(16, { error: 'must be a string of at least 16 characters' })
        .optional(),
      authorize: z
        .custom<AdminAuthorize>((value) => typeof value === 'function', { error: 'must be a function' })
        .optional(),
      sessionTtlMs: milliseconds(60_000, 604_800_000).default(28_800_000),
      refreshIntervalMs: milliseconds(1000, 600_000).default(5000),
      authFailureLimit: integer(1, 10_000).default(10),
      authFailureWindowMs: milliseconds(1000, 86_400_000).default(60_000),
    })
    .prefault({}),
  reports: z
    .strictObject({
      intervalMs: milliseconds(1000, 86_400_000).nullable().default(null),
      email: z.boolean({ error: 'must be true or false' }).default(false),
    })
    .prefault({}),
  instanceId: z
    .string({ error: 'must be a string of letters, digits and . _ : @ - (1 to 128)' })
    .regex(/^[\w.:@-]{1,128}$/, { error: 'must be a string of letters, digits and . _ : @ - (1 to 128)' })
    .optional(),
  deadlockAdmission: z
    .strictObject({
      enabled: z.boolean({ error: 'must be true or false' }).default(true),
      minLimit: integer(1, 10_000).default(2),
      quietMs: milliseconds(1000, 3_600_000).default(10_000),
    })
    .prefault({}),
  concurrencyLimit: z
    .strictObject({
      enabled: z.boolean({ error: 'must be true or false' }).default(false),
      minLimit: integer(1, 10_000).default(1),
      maxLimit: integer(1, 10_000).nullable().default(null),
      maxWaitMs: milliseconds(0, 600_000).nullable().default(null),
    })
    .prefault({}),
  retryBudget: z
    .strictObject({
      enabled: z.boolean({ error: 'must be true or false' }).default(true),
      ratio: z.number({ error: 'must be a number from 0 to 10' }).min(0).max(10).default(0.2),
      minRetriesPerSecond: z.number({ error: 'must be a number from 0 to 100000' }).min(0).max(100_000).default(10),
      windowMs: milliseconds(1000, 3_600_000).default(10_000),
    })
    .prefault({}),
  tracing: z.boolean({ error: 'must be true or false' }).default(true),
  logs: z.strictObject({ json: z.boolean({ error: 'must be true or false' }).default(false) }).prefault({}),
});

export type ParsedOptions = z.output<typeof optionsSchema>;

/** Options with every default filled in: what the module's parts read. */
export type ResolvedResilienceOptions = Omit<ParsedOptions, 'circuitBreaker' | 'deadlocks'> & {
  circuitBreaker: Omit<ParsedOptions['circuitBreaker'], 'store'>;
  deadlocks: Omit<ParsedOptions['deadlocks'], 'innodbStatus' | 'innodbStatusMinIntervalMs'>;
};

/** The Redis or memory settings of the shared store, or undefined when the app gave a store of its own. */
export type SharedStoreSettings = z.output<typeof storeSettings>;
export function storeSettingsOf(options: ResolvedResilienceOptions): SharedStoreSettings | undefined {
  const { store } = options.sharedState;
  return isSharedStateStore(store) ? undefined : store;
}

/** Validates the options given to forRoot / forRootAsync and fills in the defaults, or throws one clear error. */
export function resolveOptions(options: DatabaseResilienceOptions | undefined): ResolvedResilienceOptions {
  const result = optionsSchema.safeParse(options ?? {});
  if (!result.success) {
    throw new ResilienceOptionsError(result.error.issues.map((issue) => describeIssue(issue, options, optionsSchema)));
  }
  return movedOptions(result.data, options);
}
