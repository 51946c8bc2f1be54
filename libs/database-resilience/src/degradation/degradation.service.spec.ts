import { CircuitBreakerRegistry } from '../circuit-breaker/circuit-breaker.registry';
import { MemorySharedStateStore } from '../shared-state/shared-state-store';
import { ErrorClassifier } from '../classification/error-classifier';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import { resolveOptions } from '../options/options.schema';
import { DegradationService } from './degradation.service';

describe('DegradationService (fake clock)', () => {
  let events: ResilienceEvents;
  let breakers: CircuitBreakerRegistry;
  let degradation: DegradationService;
  let seen: ResilienceEvent[];

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    events = new ResilienceEvents();
    seen = [];
    events.subscribe((e) => seen.push(e));
    const options = resolveOptions({
      circuitBreaker: { failureThreshold: 1, recoveryTimeoutMs: 5000 },
      degradation: { healthyPeriodMs: 10_000, errorsPerMinute: 3 },
    });
    const store = new MemorySharedStateStore();
    breakers = new CircuitBreakerRegistry(options, events, store);
    degradation = new DegradationService(events, breakers, options, store);
  });
  afterEach(() => jest.useRealTimers());

  it('turns on when a breaker opens, stays on while it is open, and off a healthy period after it closes', () => {
    breakers.breaker('default').failure();
    expect(degradation.state()).toMatchObject({ degraded: true, expectedEndAt: null });
    jest.advanceTimersByTime(60_000);
    expect(degradation.isDegraded()).toBe(true); // still open
    breakers.reset('default');
    jest.advanceTimersByTime(9_999);
    expect(degradation.isDegraded()).toBe(true);
    jest.advanceTimersByTime(1);
    expect(degradation.isDegraded()).toBe(false);
    expect(seen.filter((e) => e.type === 'degradation').map((e) => e.type === 'degradation' && e.degraded)).toEqual([
      true,
      false,
    ]);
  });

  it('turns on past the error rate, and reset() ends it at once', () => {
    const error = new ErrorClassifier().classify({ errno: 1205, message: 'Lock wait timeout exceeded' });
    for (let i = 0; i < 4; i++) {
      events.emit({
        type: 'attempt-failed',
        at: Date.now(),
        unitId: i,
        database: 'default',
        operation: undefined,
        requestId: undefined,
        attempt: 1,
        error,
        willRetry: false,
      });
    }
    expect(degradation.state()).toMatchObject({ degraded: true, reason: 'more than 3 errors a minute on "default"' });
    degradation.reset();
    expect(degradation.isDegraded()).toBe(false);
  });

  it('says what the breakers say: "is open" while open, "recovering" once it closed and the healthy period runs', () => {
    breakers.breaker('default').failure();
    expect(degradation.state()).toMatchObject({ degraded: true, reason: 'the circuit breaker of "default" is open' });
    breakers.reset('default');
    expect(degradation.state()).toMatchObject({
      degraded: true,
      reason: 'recovering: the circuit breaker of "default" closed; back to normal after 10 s without trouble',
    });
  });

  it('asks clients to come back when the breaker probes or the healthy period ends', () => {
    breakers.breaker('default').failure();
    expect(degradation.retryAfterSeconds()).toBe(10);
  });
});
