import { Injectable, Logger } from '@nestjs/common';
import type { ResilienceEvent } from './resilience-event';

export type ResilienceListener = (event: ResilienceEvent) => void;

/**
 * Record once, observe many: every recorded failure or state change is one event here; history, statistics,
 * metrics and alerts subscribe. A listener that throws is logged and skipped: observing never breaks the
 * request path.
 */
@Injectable()
export class ResilienceEvents {
  private readonly logger = new Logger('DatabaseResilience');
  private listeners: ResilienceListener[] = [];

  /** Returns a function that unsubscribes. */
  subscribe(listener: ResilienceListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: ResilienceEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn(`A resilience event listener failed on ${event.type}: ${(error as Error).message}`);
      }
    }
  }
}
