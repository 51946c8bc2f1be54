import type { OnModuleDestroy } from '@nestjs/common';
import type { CircuitState } from '../events/resilience-event';

/** What instances tell each other through the shared store. */
export type SharedStateMessage =
  | { kind: 'breaker'; origin: string; name: string; state: CircuitState; openedAt: number; forced: boolean }
  | { kind: 'degradation-reset'; origin: string }
  /** An admin dashboard session ended by logout, refused by every instance until it would have expired. */
  | { kind: 'session-revoked'; origin: string; sid: string; expiresAt: number };

/**
 * Where breaker transitions (and degradation resets) are shared between instances. The in-memory store (the
 * default) shares nothing; the Redis store shares through pub/sub. Publishing never throws and never waits.
 */
export abstract class SharedStateStore implements OnModuleDestroy {
  /** This instance's id, to ignore its own messages. */
  readonly origin = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;

  /** Resolves once sent (or once sending failed, which is logged): never rejects. */
  abstract publish(message: SharedStateMessage): Promise<void>;
  /** Resolves when the store can publish, or after `timeoutMs` whatever happens. */
  abstract ready(timeoutMs: number): Promise<void>;
  abstract subscribe(listener: (message: SharedStateMessage) => void): void;
  /** What other instances left for an instance that starts late: breaker states, revoked sessions. */
  abstract storedStates(): Promise<SharedStateMessage[]>;
  abstract close(): Promise<void>;

  /**
   * Alerts once per incident across the fleet: adds this instance's `occurrences` of alert `key` to the fleet's
   * count and tries to claim the alert for `ttlMs` (the cooldown). Resolves true for the one instance that
   * claimed it, false for the others, undefined when the store shares nothing or cannot answer now (the
   * instance then decides on its own). The default shares nothing; a store of your own may implement it.
   */
  async claimAlert(key: string, ttlMs: number, occurrences: number): Promise<boolean | undefined> {
    void key;
    void ttlMs;
    void occurrences;
    return undefined;
  }

  /** For the instance that claimed `key`: the fleet's occurrences since the last claim (then reset), if known. */
  async takeAlertCount(key: string): Promise<number | undefined> {
    void key;
    return undefined;
  }

  onModuleDestroy(): Promise<void> {
    return this.close();
  }
}

/** Duck-typed, so that a store made against a second copy of the library is accepted too. */
export function isSharedStateStore(value: unknown): value is SharedStateStore {
  const store = value as Partial<Record<keyof SharedStateStore, unknown>> | null;
  return (
    typeof store === 'object' &&
    store !== null &&
    typeof store.origin === 'string' &&
    (['publish', 'ready', 'subscribe', 'storedStates', 'close'] as const).every((m) => typeof store[m] === 'function')
  );
}

export class MemorySharedStateStore extends SharedStateStore {
  async publish(): Promise<void> {}
  async ready(): Promise<void> {}
  subscribe(): void {}
  async storedStates(): Promise<SharedStateMessage[]> {
    return [];
  }
  async close(): Promise<void> {}
}
