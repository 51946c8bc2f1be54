import { Inject, Injectable, Logger } from '@nestjs/common';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../resilience-options.token';
import { CircuitBreaker, type CircuitBreakerSnapshot, type CircuitState } from './circuit-breaker';

/**
 * One circuit breaker per database (TypeORM DataSource name), and named ones on demand. Every transition is
 * logged and emitted as a `breaker-state` event.
 */
@Injectable()
export class CircuitBreakerRegistry {
  private readonly logger = new Logger('DatabaseResilience');
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly events: ResilienceEvents,
  ) {
    for (const name of options.databases) this.get(name);
  }

  /** The breaker of that name, made on first use. */
  get(name: string): CircuitBreaker {
    let breaker = this.breakers.get(name);
    if (!breaker) {
      breaker = new CircuitBreaker(name, this.options.circuitBreaker, (b, state) => this.transitioned(b, state));
      this.breakers.set(name, breaker);
    }
    return breaker;
  }

  list(): CircuitBreakerSnapshot[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }

  /** Closes the breaker; false if there is none of that name. */
  reset(name: string): boolean {
    const breaker = this.breakers.get(name);
    breaker?.reset();
    return breaker !== undefined;
  }

  /** Opens the breaker until reset (maintenance, a failover in progress). */
  forceOpen(name: string): CircuitBreakerSnapshot {
    const breaker = this.get(name);
    breaker.forceOpen();
    return breaker.snapshot();
  }

  private transitioned(breaker: CircuitBreaker, state: CircuitState): void {
    const line = `Circuit breaker "${breaker.name}" is now ${state}`;
    if (state === 'open') this.logger.warn(line);
    else this.logger.log(line);
    this.events.emit({ type: 'breaker-state', at: Date.now(), database: breaker.name, state });
  }
}
