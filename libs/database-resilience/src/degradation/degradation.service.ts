import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { SharedStateStore } from '../shared-state/shared-state-store';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { ResilienceLogger } from '../events/resilience-logger';

export interface DegradationState {
  degraded: boolean;
  reason: string | null;
  since: string | null;
  /** When it will be normal again if no new trouble comes (null: not before a breaker closes). */
  expectedEndAt: string | null;
}

const MINUTE = 60_000;

/**
 * Graceful degradation: on while a circuit breaker is open (or the error rate is over `errorsPerMinute`), off
 * after `healthyPeriodMs` without trouble, or at once with reset(). Non-essential routes (`@NonEssential()`)
 * answer 503 meanwhile. Each change is logged and emitted as a `degradation` event.
 */
@Injectable()
export class DegradationService implements OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private degradedSince: number | null = null;
  private reason: string | null = null;
  private database = '';
  private lastTroubleAt = 0;
  private readonly errorsThisMinute = new Map<string, { minute: number; errors: number }>();
  private readonly unsubscribe: () => void;
  private readonly bus: ResilienceEvents;

  constructor(
    events: ResilienceEvents,
    private readonly breakers: CircuitBreakerRegistry,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly store: SharedStateStore,
  ) {
    this.bus = events;
    this.unsubscribe = events.subscribe((event) => this.observe(event), { types: ['breaker-state', 'attempt-failed'] });
    store.subscribe((message) => message.kind === 'degradation-reset' && this.resetHere());
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Whether non-essential work should be refused now. Turns degradation off when the healthy period has passed. */
  isDegraded(): boolean {
    if (this.degradedSince === null) return false;
    const now = Date.now();
    if (!this.troubleOngoing() && now - this.lastTroubleAt >= this.options.degradation.healthyPeriodMs) {
      this.end('healthy for the configured period');
    }
    return this.degradedSince !== null;
  }

  state(): DegradationState {
    const degraded = this.isDegraded();
    const ongoing = this.troubleOngoing();
    return {
      degraded,
      reason: this.reason,
      since: this.degradedSince === null ? null : new Date(this.degradedSince).toISOString(),
      expectedEndAt:
        !degraded || ongoing
          ? null
          : new Date(this.lastTroubleAt + this.options.degradation.healthyPeriodMs).toISOString(),
    };
  }

  /** Seconds a client should wait before trying a non-essential route again. */
  retryAfterSeconds(): number {
    // An open breaker closes when the next probe or health check finds the server back (its Retry-After).
    const probeIn = this.breakers.list().flatMap(({ name }) => this.breakers.get(name).retryAfterMs() ?? []);
    const healthyIn = this.lastTroubleAt + this.options.degradation.healthyPeriodMs - Date.now();
    return Math.max(1, Math.ceil(Math.max(0, ...probeIn, healthyIn) / 1000));
  }

  /** Degrades by hand (maintenance). */
  degrade(reason: string, database = 'all'): void {
    this.lastTroubleAt = Date.now();
    if (this.degradedSince !== null) return;
    this.degradedSince = this.lastTroubleAt;
    this.reason = reason;
    this.database = database;
    this.logger.warn(`Graceful degradation on: ${reason}`, { event: 'degradation-on', database });
    this.bus.emit({ type: 'degradation', at: this.degradedSince, database, degraded: true, reason });
  }

  /**
   * Back to normal at once, here and (with a shared store) on every instance: admin API, CLI. The promise
   * resolves once the other instances have been told; it never rejects.
   */
  reset(): Promise<void> {
    this.resetHere();
    return this.store.publish({ kind: 'degradation-reset', origin: this.store.origin });
  }

  private resetHere(): void {
    this.lastTroubleAt = 0;
    this.end('reset');
  }

  private end(why: string): void {
    if (this.degradedSince === null) return;
    this.degradedSince = null;
    this.logger.log(`Graceful degradation off (${why})`, { event: 'degradation-off', database: this.database });
    this.bus.emit({ type: 'degradation', at: Date.now(), database: this.database, degraded: false, reason: why });
    this.reason = null;
  }

  private troubleOngoing(): boolean {
    return this.options.degradation.onBreakerOpen && this.breakers.anyOpen();
  }

  private observe(event: ResilienceEvent): void {
    const { degradation } = this.options;
    if (event.type === 'breaker-state' && event.state === 'open' && degradation.onBreakerOpen) {
      this.degrade(`the circuit breaker of "${event.database}" is open`, event.database);
    } else if (event.type === 'breaker-state' && event.state !== 'open' && this.degradedSince !== null) {
      this.lastTroubleAt = Math.max(this.lastTroubleAt, event.at); // the healthy period starts now
      // What the page and the API say must match the breakers: none is open any more.
      if (event.state === 'closed' && !this.breakers.anyOpen()) {
        const seconds = Math.round(degradation.healthyPeriodMs / 1000);
        this.reason = `recovering: the circuit breaker of "${event.database}" closed; back to normal after ${seconds} s without trouble`;
      }
    } else if (event.type === 'attempt-failed' && degradation.errorsPerMinute !== null) {
      const minute = event.at - (event.at % MINUTE);
      let counter = this.errorsThisMinute.get(event.database);
      if (!counter || counter.minute !== minute)
        this.errorsThisMinute.set(event.database, (counter = { minute, errors: 0 }));
      if (++counter.errors > degradation.errorsPerMinute) {
        this.degrade(`more than ${degradation.errorsPerMinute} errors a minute on "${event.database}"`, event.database);
      }
    }
  }
}
