import { Injectable } from '@nestjs/common';
import type { ResilienceEvent } from './resilience-event';
import { ResilienceLogger } from './resilience-logger';

export type ResilienceListener = (event: ResilienceEvent) => void;

export interface SubscribeOptions {
  /** `query` events too (one per statement): only for those who ask, so that the hot path stays short. */
  queries?: boolean;
  /** Only these event types: an event no listener asked for is neither built nor sent. Default: every type. */
  types?: ReadonlyArray<ResilienceEvent['type']>;
}

interface Subscription {
  listener: ResilienceListener;
  options: SubscribeOptions;
}

/**
 * Record once, observe many: every recorded failure or state change is one event here; history, statistics,
 * metrics and alerts subscribe. A listener that throws is logged and skipped: observing never breaks the
 * request path.
 */
@Injectable()
export class ResilienceEvents {
  private readonly logger = new ResilienceLogger();
  private subscriptions: Subscription[] = [];
  /** The listeners of each event type, worked out on first emit after a (un)subscription. */
  private byType = new Map<ResilienceEvent['type'], ResilienceListener[]>();

  /** Every event but `query` (see SubscribeOptions). Returns a function that unsubscribes. */
  subscribe(listener: ResilienceListener, options: SubscribeOptions = {}): () => void {
    const subscription = { listener, options };
    this.subscriptions = [...this.subscriptions, subscription];
    this.byType = new Map();
    return () => {
      this.subscriptions = this.subscriptions.filter((s) => s !== subscription);
      this.byType = new Map();
    };
  }

  /** Whether anyone listens to events of this type: the caller can skip building one. */
  wants(type: ResilienceEvent['type']): boolean {
    return this.listenersOf(type).length > 0;
  }

  /** Whether anyone listens to `query` events (the guard skips building them otherwise). */
  get wantsQueries(): boolean {
    return this.wants('query');
  }

  emit(event: ResilienceEvent): void {
    for (const listener of this.listenersOf(event.type)) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn(`A resilience event listener failed on ${event.type}: ${(error as Error).message}`, {
          event: 'listener-failed',
        });
      }
    }
  }

  private listenersOf(type: ResilienceEvent['type']): ResilienceListener[] {
    let listeners = this.byType.get(type);
    if (!listeners) {
      listeners = this.subscriptions
        .filter(({ options }) => (options.types ? options.types.includes(type) : type !== 'query' || options.queries))
        .map((s) => s.listener);
      this.byType.set(type, listeners);
    }
    return listeners;
  }
}
