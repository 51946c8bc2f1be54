import { SetMetadata } from '@nestjs/common';
import { RETRYABLE_METADATA } from './retryable.decorator';

/**
 * Guards a provider method without retrying it: its database errors are classified and recorded, and it is
 * rejected at once while the breaker of `database` is open. A name that is not a DataSource makes a breaker of
 * its own (e.g. `@DatabaseErrorHandler('reporting')` for a reporting path that should fail apart).
 */
export const DatabaseErrorHandler = (database?: string, operation?: string): MethodDecorator =>
  SetMetadata(RETRYABLE_METADATA, { database, operation, retry: false });
