import { Injectable } from '@nestjs/common';
import type { ResilienceEvent } from './resilience-event';
import { ResilienceLogger } from './resilience-logger';

export type ResilienceListener = (event: ResilienceEvent) => void;

/**
 * Record once, observe many: every recorded failure or state change is one event here; history, statistics,
 * metrics and alerts subscribe. A listener that throws is logged and skipped: observing never breaks the
 * request path.
 */
@Injectable()
export class ResilienceEvents {
  private readonly logger = new ResilienceLogger();
  private listeners: ResilienceListener[] = [];
  /** `query` events (one per statement) go only to those who asked: the hot path stays short. */
  private queryListeners: ResilienceListener[] = [];

  /** Every event but `query`, or with `{ queries: true }` those too. Returns a function that unsubscribes. */
  subscribe(listener: ResilienceListener, options: { queries?: boolean } = {}): () => void {
    this.listeners = [...this.listeners, listener];
    if (options.queries) this.queryListeners = [...this.queryListeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.queryListeners = this.queryListeners.filter((l) => l !== listener);
    };
  }

  /** Whether anyone listens to `query` events (the guard skips building them otherwise). */
  get wantsQueries(): boolean {
    return this.queryListeners.length > 0;
  }

  emit(event: ResilienceEvent): void {
    for (const listener of event.type === 'query' ? this.queryListeners : this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn(`A resilience event listener failed on ${event.type}: ${(error as Error).message}`, {
          event: 'listener-failed',
        });
      }
    }
  }
}
