import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { PREPARE_GUARD, ResilienceService } from './resilience.service';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import type { RetryableOptions } from './retry-options';
import { retryPolicy } from './retry-policy';
import { RETRYABLE_METADATA } from './retryable.decorator';
import { ResilienceLogger } from '../events/resilience-logger';

/** Wraps every `@Retryable()` method of every provider at start-up, as @nestjs/schedule's explorer does. */
@Injectable()
export class RetryableExplorer implements OnModuleInit {
  private readonly logger = new ResilienceLogger();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly resilience: ResilienceService,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) this.wrapProvider(wrapper);
  }

  private wrapProvider(wrapper: InstanceWrapper): void {
    const { instance } = wrapper;
    const prototype = instance
      ? Object.getPrototypeOf(instance)
      : (wrapper.metatype as { prototype?: object })?.prototype;
    if (!prototype || typeof prototype !== 'object') return;
    for (const method of this.scanner.getAllMethodNames(prototype)) {
      const options = this.reflector.get<RetryableOptions | undefined>(
        RETRYABLE_METADATA,
        prototype[method as keyof object],
      );
      if (!options) continue;
      const operation = options.operation ?? `${prototype.constructor.name}.${method}`;
      if (!wrapper.isDependencyTreeStatic() || !instance) {
        this.logger.warn(
          `@Retryable() on ${operation} is ignored: request-scoped providers cannot be wrapped at start-up`,
          { event: 'retryable-ignored' },
        );
        continue;
      }
      this.wrapMethod(instance as Record<string, unknown>, method, { ...options, operation });
    }
  }

  private wrapMethod(instance: Record<string, unknown>, method: string, options: RetryableOptions): void {
    const original = instance[method] as (...args: unknown[]) => unknown;
    const { database, operation, deadlineMs, readOnly, ...retry } = options as RetryableOptions & { retry?: false };
    const policy =
      retry.retry === false ? null : retryPolicy(this.options.retry, retry, true, `@Retryable() on ${operation}`);
    const guarded = this.resilience[PREPARE_GUARD]({ database, operation, deadlineMs, readOnly }, policy);
    const wrapped = function (this: unknown, ...args: unknown[]) {
      return guarded(() => original.apply(this, args) as Promise<unknown>);
    };
    Object.defineProperty(wrapped, 'name', { value: method });
    instance[method] = wrapped;
  }
}
