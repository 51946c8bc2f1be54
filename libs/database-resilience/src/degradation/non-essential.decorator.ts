import { SetMetadata } from '@nestjs/common';

export const NON_ESSENTIAL_METADATA = 'database-resilience:non-essential';

/**
 * On a route or a controller: while the database is in trouble (graceful degradation on), it answers 503 with
 * Retry-After and a JSON body, so that the essential routes keep the database's remaining capacity.
 */
export const NonEssential = (): ClassDecorator & MethodDecorator => SetMetadata(NON_ESSENTIAL_METADATA, true);
