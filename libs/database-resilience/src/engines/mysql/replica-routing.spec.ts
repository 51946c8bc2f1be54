import { EventEmitter } from 'node:events';
import type { ResilienceLogger } from '../../events/resilience-logger';
import { ErrorClassifier } from '../../classification/error-classifier';
import { resolveOptions } from '../../options/options.schema';
import { fakeConnection } from './fake-connection.spec-support';
import { PoolBorrow, type Obtain } from './pool-borrow';
import { ReplicaRouting } from './replica-routing';
import { Watchdog } from '../watchdog';

describe('ReplicaRouting', () => {
  const logger = { warn: jest.fn() } as unknown as ResilienceLogger;
  const watchdog = new Watchdog(100);
  afterAll(() => watchdog.stop());
  const routing = () =>
    new ReplicaRouting(
      'default',
      5000,
      new PoolBorrow(resolveOptions({}).pool, 'default', watchdog),
      new ErrorClassifier(),
      logger,
    );

  it('reads from a replica while it works; when it fails, from the primary for retryMs, without asking it again', async () => {
    const replica = fakeConnection();
    const primary = fakeConnection();
    let replicaUp = true;
    const obtain: Obtain = jest.fn((callback) =>
      replicaUp
        ? callback(undefined, replica)
        : callback(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    );
    const route = routing();
    const instrument = jest.fn();
    await expect(route.borrow(obtain, instrument, async () => primary)).resolves.toBe(replica);
    expect(instrument).toHaveBeenCalledWith(replica);
    replicaUp = false;
    await expect(route.borrow(obtain, instrument, async () => primary)).resolves.toBe(primary);
    await expect(route.borrow(obtain, instrument, async () => primary)).resolves.toBe(primary);
    expect(obtain).toHaveBeenCalledTimes(2); // left out after the failure
  });

  it('puts a node that mysql2 removed back after retryMs', () => {
    jest.useFakeTimers();
    try {
      const cluster = Object.assign(new EventEmitter(), { add: jest.fn() });
      const driver = {
        options: { replication: { master: { host: 'p' }, slaves: [{ host: 'r0' }] } },
        createConnectionOptions: (_options: unknown, node: unknown) => ({ built: node }),
      };
      routing().putBackRemoved(driver, cluster);
      cluster.emit('remove', 'SLAVE0');
      jest.advanceTimersByTime(4999);
      expect(cluster.add).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(cluster.add).toHaveBeenCalledWith('SLAVE0', { built: { host: 'r0' } });
    } finally {
      jest.useRealTimers();
    }
  });
});
