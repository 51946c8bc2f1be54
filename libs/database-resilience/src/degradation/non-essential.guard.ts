import { Injectable, ServiceUnavailableException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DegradationService } from './degradation.service';

export const NON_ESSENTIAL_METADATA = 'database-resilience:non-essential';

/** Put on `@NonEssential()` routes by the decorator: refuses them while degraded. */
@Injectable()
export class NonEssentialGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly degradation: DegradationService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const nonEssential = this.reflector.getAllAndOverride<boolean>(NON_ESSENTIAL_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!nonEssential || !this.degradation.isDegraded()) return true;
    const retryAfter = this.degradation.retryAfterSeconds();
    context
      .switchToHttp()
      .getResponse<{ setHeader(name: string, value: string): void }>()
      .setHeader('Retry-After', String(retryAfter));
    throw new ServiceUnavailableException({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'DEGRADED',
      message: 'This feature is paused while the database recovers; essential features still work.',
      retryAfterSeconds: retryAfter,
    });
  }
}
