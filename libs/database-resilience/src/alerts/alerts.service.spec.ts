import { MemorySharedStateStore } from '../shared-state/shared-state-store';
import { Logger } from '@nestjs/common';
import { ErrorClassifier } from '../classification/error-classifier';
import { ResilienceEvents } from '../events/resilience-events';
import { resolveOptions } from '../options/options.schema';
import type { DatabaseResilienceOptions } from '../options/database-resilience-options';
import type { Alert } from '../events/alert';
import { AlertsService } from './alerts.service';

const classifier = new ErrorClassifier();
const refused = classifier.classify({
  code: 'ECONNREFUSED',
  message: 'connect to mysql://app:hunter2@db:3306 refused',
});
const deadlock = classifier.classify({ errno: 1213, message: 'Deadlock found' });

describe('AlertsService', () => {
  let events: ResilienceEvents;
  let received: Alert[];
  let service: AlertsService;
  let unitId = 0;

  function setUp(alerts: DatabaseResilienceOptions['alerts'] = {}, store = new MemorySharedStateStore()) {
    events = new ResilienceEvents();
    received = [];
    service = new AlertsService(
      events,
      resolveOptions({
        instanceId: 'api-1',
        alerts: { log: false, callbacks: [(a) => void received.push(a)], ...alerts },
      }),
      store,
    );
  }

  /** A store that answers claims as told, as the fleet would. */
  function fleet(claim: boolean | undefined, count?: number) {
    const store = new MemorySharedStateStore();
    const claims: Array<[string, number, number]> = [];
    store.claimAlert = async (key, ttlMs, occurrences) => {
      claims.push([key, ttlMs, occurrences]);
      return claim;
    };
    store.takeAlertCount = async () => count;
    return { store, claims };
  }

  it('with a fleet: sends what this instance claimed, counting the fleet; sends nothing another instance claimed', async () => {
    const won = fleet(true, 3);
    setUp({ fleetGatherMs: 0, cooldownMs: 60_000 }, won.store);
    fail();
    await service.flush();
    expect(won.claims).toEqual([['severe-error:default', 60_000, 1]]);
    expect(received).toEqual([expect.objectContaining({ instance: 'api-1', suppressed: 2 })]);

    setUp({ fleetGatherMs: 0 }, fleet(false).store);
    fail();
    await service.flush();
    expect(received).toEqual([]);

    // No cooldown: nothing to share, no claim (Redis refuses a zero expiry).
    const asked = fleet(true, 1);
    setUp({ fleetGatherMs: 0, cooldownMs: 0 }, asked.store);
    fail();
    await service.flush();
    expect(asked.claims).toEqual([]);
    expect(received).toHaveLength(1);

    // The store cannot answer (Redis down): the instance alerts on its own.
    setUp({ fleetGatherMs: 0 }, fleet(undefined).store);
    fail();
    await service.flush();
    expect(received).toEqual([expect.objectContaining({ instance: 'api-1', suppressed: 0 })]);
  });

  const fail = (error = refused, at = Date.now(), database = 'default') =>
    events.emit({
      type: 'attempt-failed',
      at,
      unitId: ++unitId,
      database,
      operation: 'op',
      requestId: undefined,
      attempt: 1,
      error,
      willRetry: false,
    });

  it('raises a critical error at once, redacted', async () => {
    setUp();
    fail();
    await service.flush();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      rule: 'severe-error',
      severity: 'critical',
      database: 'default',
      suppressed: 0,
    });
    expect(JSON.stringify(received[0])).not.toContain('hunter2');
  });

  it('rate-limits each rule and database, and the next alert says how many were held back', async () => {
    setUp({ cooldownMs: 60_000 });
    const t0 = Date.now();
    fail(refused, t0);
    fail(refused, t0 + 1000);
    fail(refused, t0 + 2000);
    fail(refused, t0 + 2000, 'reporting'); // another database: its own limit
    fail(refused, t0 + 61_000);
    await service.flush();
    expect(received.map((a) => [a.database, a.suppressed])).toEqual([
      ['default', 0],
      ['reporting', 0],
      ['default', 2],
    ]);
  });

  it('raises the error-rate rule past errorsPerMinute, once a minute', async () => {
    setUp({ errorsPerMinute: 3, cooldownMs: 0 });
    const minute = 60_000 * 1000;
    for (let i = 0; i < 6; i++) fail(deadlock, minute + i);
    fail(deadlock, minute + 60_000);
    await service.flush();
    expect(received.map((a) => a.rule)).toEqual(['error-rate']);
  });

  it('raises breaker-open, degraded and deadlock-cluster from their events', async () => {
    setUp();
    const at = Date.now();
    events.emit({ type: 'breaker-state', at, database: 'default', state: 'open' });
    events.emit({ type: 'breaker-state', at, database: 'other', state: 'closed' });
    events.emit({ type: 'degradation', at, database: 'default', degraded: true, reason: 'breaker open' });
    events.emit({ type: 'deadlock-cluster', at, database: 'default', deadlocks: 6, windowMs: 300_000 });
    await service.flush();
    expect(received.map((a) => a.rule)).toEqual(['breaker-open', 'degraded', 'deadlock-cluster']);
  });

  it('a channel that throws or hangs never reaches the caller, and the others still deliver', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const delivered: Alert[] = [];
    events = new ResilienceEvents();
    service = new AlertsService(
      events,
      resolveOptions({
        alerts: {
          log: false,
          channelTimeoutMs: 50,
          callbacks: [
            () => {
              throw new Error('broken channel');
            },
            () => new Promise<void>(() => undefined), // hangs forever
            (alert) => void delivered.push(alert),
          ],
        },
      }),
      new MemorySharedStateStore(),
    );
    expect(() => fail()).not.toThrow();
    expect(delivered).toEqual([]); // emit returned before any channel ran: nothing waits for them
    await service.flush();
    expect(delivered).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('callback #1 failed for severe-error: broken channel'));
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('callback #2 failed for severe-error: no answer within 50 ms'),
    );
    warn.mockRestore();
  });

  it('ignores errors below minSeverity for the at-once rule', async () => {
    setUp({ minSeverity: 'critical' });
    fail(deadlock);
    await service.flush();
    expect(received).toEqual([]);
  });
});
