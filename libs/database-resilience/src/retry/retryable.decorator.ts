import { SetMetadata } from '@nestjs/common';
import type { RetryableOptions } from './retry-options';

export const RETRYABLE_METADATA = 'database-resilience:retryable';

/**
 * The whole method is a unit of work: after a failure that is safe to retry (deadlock, lock wait timeout,
 * connection lost before COMMIT...) it runs again, with backoff and jitter. Works on any provider method; the
 * module wraps decorated methods at start-up. Called inside another unit of work, it runs once.
 */
export const Retryable = (options: RetryableOptions = {}): MethodDecorator => SetMetadata(RETRYABLE_METADATA, options);
