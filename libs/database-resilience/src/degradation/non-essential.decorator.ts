import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { NON_ESSENTIAL_METADATA, NonEssentialGuard } from './non-essential.guard';

/**
 * On a route or a controller: while the database is in trouble (graceful degradation on), it answers 503 with
 * Retry-After and a JSON body, so that the essential routes keep the database's remaining capacity. The guard
 * sits on the decorated routes only: the others pay nothing for it.
 */
export const NonEssential = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(NON_ESSENTIAL_METADATA, true), UseGuards(NonEssentialGuard));
