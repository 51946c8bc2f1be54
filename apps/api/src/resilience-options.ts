import type { DatabaseResilienceOptions } from 'nestjs-database-resilience';

/** A number from the environment; unset or empty keeps the module's default. A bad one is named at start-up. */
const number = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));
/** `true` / `false`; unset or empty keeps the default; anything else reaches the module, which names it. */
const flag = (value: string | undefined) =>
  value === undefined || value === '' ? undefined : value === 'true' ? true : value === 'false' ? false : value;

/** The demo's module options, from the environment (see .env.example). */
export function resilienceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DatabaseResilienceOptions {
  return {
    instanceId: env.RESILIENCE_INSTANCE_ID || undefined,
    retryBudget: {
      enabled: flag(env.RESILIENCE_RETRY_BUDGET_ENABLED) as boolean | undefined,
      ratio: number(env.RESILIENCE_RETRY_BUDGET_RATIO),
    },
    deadlockAdmission: { enabled: flag(env.RESILIENCE_DEADLOCK_ADMISSION_ENABLED) as boolean | undefined },
    concurrencyLimit: { enabled: flag(env.RESILIENCE_CONCURRENCY_LIMIT_ENABLED) as boolean | undefined },
    http: { requestDeadlineMs: number(env.RESILIENCE_REQUEST_DEADLINE_MS) },
    alerts: env.RESILIENCE_ALERT_SMTP_URL
      ? {
          email: {
            smtpUrl: env.RESILIENCE_ALERT_SMTP_URL,
            from: env.RESILIENCE_ALERT_EMAIL_FROM ?? '',
            to: (env.RESILIENCE_ALERT_EMAIL_TO ?? '')
              .split(',')
              .map((address) => address.trim())
              .filter(Boolean),
          },
        }
      : {},
    admin: { token: env.DB_ADMIN_TOKEN || undefined },
    healthCheck: {
      intervalMs: number(env.RESILIENCE_HEALTH_CHECK_INTERVAL_MS),
      timeoutMs: number(env.RESILIENCE_HEALTH_CHECK_TIMEOUT_MS),
    },
    circuitBreaker: {
      recoveryTimeoutMs: number(env.RESILIENCE_BREAKER_RECOVERY_TIMEOUT_MS),
      firstProbeAfterMs: number(env.RESILIENCE_BREAKER_FIRST_PROBE_AFTER_MS),
    },
    ...(env.REDIS_URL
      ? {
          sharedState: {
            store: { type: 'redis', url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX || 'db-resilience' },
          },
        }
      : {}),
  };
}
