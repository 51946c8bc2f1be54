import type { Redis, RedisOptions } from 'ioredis';
import { loadOptionalPeer } from '../options/optional-peer';

/**
 * A client of the shared Redis (ioredis, loaded only when a Redis store is configured) that fails fast instead of
 * queueing while Redis is away: every command is bounded by `timeoutMs`, and reconnecting goes on in the background.
 */
export function redisClient(url: string, timeoutMs: number, overrides: RedisOptions = {}): Redis {
  const { Redis: Client } = loadOptionalPeer<typeof import('ioredis')>(
    'ioredis',
    "sharedState.store { type: 'redis' }",
  );
  return new Client(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    retryStrategy: (attempt: number) => Math.min(attempt * 250, 2000),
    ...overrides,
  });
}
