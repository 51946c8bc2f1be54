import type { DatabaseResilienceOptions } from 'nestjs-database-resilience';

/**
 * The demo's module options, from the environment (see .env.example). Anything unset keeps the module's
 * default; a bad value stops start-up with a message naming the option.
 */
export function resilienceOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DatabaseResilienceOptions {
  const number = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : Number(env[name]));
  return {
    http: { requestDeadlineMs: number('RESILIENCE_REQUEST_DEADLINE_MS') },
    healthCheck: {
      intervalMs: number('RESILIENCE_HEALTH_CHECK_INTERVAL_MS'),
      timeoutMs: number('RESILIENCE_HEALTH_CHECK_TIMEOUT_MS'),
    },
    circuitBreaker: {
      recoveryTimeoutMs: number('RESILIENCE_BREAKER_RECOVERY_TIMEOUT_MS'),
      ...(env.REDIS_URL
        ? { store: { type: 'redis', url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX || 'db-resilience' } }
        : {}),
    },
  };
}
