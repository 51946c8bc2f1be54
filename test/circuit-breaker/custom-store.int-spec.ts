import { CircuitBreakerRegistry, SharedStateStore, type SharedStateMessage } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

/** A store of the app's own: one in-process bus that two app instances share (as a message broker would). */
class BusStore extends SharedStateStore {
  static readonly listeners = new Set<(message: SharedStateMessage) => void>();
  static readonly kept = new Map<string, SharedStateMessage>();
  readonly published: SharedStateMessage[] = [];

  async publish(message: SharedStateMessage): Promise<void> {
    this.published.push(message);
    if (message.kind === 'breaker') BusStore.kept.set(message.name, message);
    for (const listener of BusStore.listeners) listener(message);
  }
  async ready(): Promise<void> {}
  subscribe(listener: (message: SharedStateMessage) => void): void {
    BusStore.listeners.add((message) => message.origin !== this.origin && listener(message));
  }
  async storedStates(): Promise<SharedStateMessage[]> {
    return [...BusStore.kept.values()];
  }
  async close(): Promise<void> {}
}

describe('a SharedStateStore of your own (sharedState.store)', () => {
  const apps: ResilientApp[] = [];
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  it('is used instead of the built-in stores: a breaker opened on one instance is open on the other', async () => {
    const stores = [new BusStore(), new BusStore()];
    for (const store of stores) {
      apps.push(
        await resilientApp({
          database: 'test',
          options: { sharedState: { store }, healthCheck: { enabled: false }, alerts: { log: false } },
        }),
      );
    }
    apps[0].module.get(CircuitBreakerRegistry).forceOpen('default');
    expect(stores[0].published).toEqual([expect.objectContaining({ kind: 'breaker', name: 'default', state: 'open' })]);
    await waitUntil(
      async () => apps[1].module.get(CircuitBreakerRegistry).get('default').state === 'open',
      'the other instance to take the state',
    );
    apps[0].module.get(CircuitBreakerRegistry).reset('default');
    await waitUntil(
      async () => apps[1].module.get(CircuitBreakerRegistry).get('default').state === 'closed',
      'the other instance to close it',
    );
  });
});
