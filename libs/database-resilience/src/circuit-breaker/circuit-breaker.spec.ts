import { CircuitBreaker, type CircuitBreakerPolicy, type CircuitState } from './circuit-breaker';
import { CircuitOpenError } from './circuit-open.error';

const policy: CircuitBreakerPolicy = {
  failureThreshold: 3,
  failureRateThreshold: 0.5,
  minimumCalls: 10,
  windowMs: 10_000,
  recoveryTimeoutMs: 1000,
  halfOpenMaxProbes: 1,
  successThreshold: 2,
  probe: 'request',
};

describe('CircuitBreaker (fake clock)', () => {
  let now: number;
  let transitions: CircuitState[];
  let breaker: CircuitBreaker;

  beforeEach(() => {
    now = 1_000_000;
    transitions = [];
    breaker = new CircuitBreaker(
      'default',
      policy,
      (_b, state) => transitions.push(state),
      () => now,
    );
  });

  const rejects = () => {
    try {
      breaker.admit();
      return false;
    } catch (error) {
      expect(error).toBeInstanceOf(CircuitOpenError);
      return true;
    }
  };

  it('opens after the consecutive-failure threshold, and a success resets the count', () => {
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(rejects()).toBe(true);
  });

  it('opens on the failure rate over the window once there are enough calls', () => {
    for (let i = 0; i < 4; i++) {
      breaker.success();
      breaker.failure(); // never 3 in a row
    }
    expect(breaker.state).toBe('closed'); // 8 calls: fewer than minimumCalls
    breaker.success();
    breaker.failure(); // 10 calls, half failed
    expect(breaker.state).toBe('open');
  });

  it('forgets calls older than the window', () => {
    for (let i = 0; i < 4; i++) {
      breaker.failure();
      breaker.success();
    }
    now += 11_000;
    for (let i = 0; i < 3; i++) breaker.success();
    breaker.failure();
    expect(breaker.snapshot()).toMatchObject({ windowCalls: 4, windowFailures: 1, state: 'closed' });
  });

  it('rejects with the time left, lets one probe through after the recovery timeout, and closes after enough successes', () => {
    for (let i = 0; i < 3; i++) breaker.failure();
    now += 400;
    try {
      breaker.admit();
    } catch (error) {
      expect((error as CircuitOpenError).retryAfterMs).toBe(600);
    }
    expect(breaker.snapshot().nextProbeAt).toBe(new Date(1_000_000 + 1000).toISOString());
    now += 600;
    expect(rejects()).toBe(false); // the probe
    expect(breaker.state).toBe('half-open');
    expect(rejects()).toBe(true); // one probe at a time
    breaker.success();
    expect(rejects()).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(transitions).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again when a probe fails', () => {
    for (let i = 0; i < 3; i++) breaker.failure();
    now += 1000;
    breaker.admit();
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(rejects()).toBe(true);
  });

  it('stays open when forced, until reset', () => {
    breaker.forceOpen();
    now += 1_000_000;
    expect(rejects()).toBe(true);
    expect(breaker.snapshot()).toMatchObject({ forced: true, nextProbeAt: null });
    breaker.reset();
    expect(rejects()).toBe(false);
    expect(breaker.state).toBe('closed');
  });

  it("with background probing never lets a user call through to find out; the probe's outcome decides", () => {
    breaker = new CircuitBreaker(
      'default',
      { ...policy, probe: 'background' },
      (_b, state) => transitions.push(state),
      () => now,
    );
    for (let i = 0; i < 3; i++) breaker.failure();
    now += 5000; // long past the recovery timeout
    expect(rejects()).toBe(true);
    expect(breaker.probeDueIn()).toBe(0);
    breaker.probed(false);
    expect(breaker.probeDueIn()).toBe(1000);
    expect(rejects()).toBe(true);
    breaker.probed(true);
    expect(breaker.state).toBe('closed');
    expect(rejects()).toBe(false);
  });

  describe('firstProbeAfterMs: a ramped recovery', () => {
    const ramped = (probe: 'request' | 'background' = 'request') =>
      new CircuitBreaker(
        'default',
        { ...policy, recoveryTimeoutMs: 8000, firstProbeAfterMs: 1000, probe },
        () => undefined,
        () => now,
      );
    const openUp = (b: CircuitBreaker) => {
      for (let i = 0; i < policy.failureThreshold; i++) b.failure();
      expect(b.state).toBe('open');
    };

    it('lets the first probe through after firstProbeAfterMs, doubles the wait at each failed probe up to the recovery timeout, and starts again after closing', () => {
      const b = ramped();
      openUp(b);
      const waits: number[] = [];
      for (let probe = 0; probe < 5; probe++) {
        const openedAt = now;
        while (b.rejection()) now += 250;
        waits.push(now - openedAt);
        b.failure(); // the probe failed: open again
      }
      expect(waits).toEqual([1000, 2000, 4000, 8000, 8000]);
      now += 8000;
      expect(b.rejection()).toBeUndefined();
      b.success();
      b.success();
      expect(b.state).toBe('closed');
      openUp(b);
      expect(b.retryAfterMs()).toBe(1000);
      expect(b.snapshot().nextProbeAt).toBe(new Date(now + 1000).toISOString());
    });

    it('a failed background probe doubles the wait too', () => {
      const b = ramped('background');
      openUp(b);
      expect(b.probeDueIn()).toBe(1000);
      now += 1000;
      b.probed(false);
      expect(b.probeDueIn()).toBe(2000);
      b.probed(true);
      expect(b.state).toBe('closed');
    });

    it('unset, every probe waits the recovery timeout', () => {
      openUp(breaker);
      expect(breaker.retryAfterMs()).toBe(policy.recoveryTimeoutMs);
    });
  });
});
