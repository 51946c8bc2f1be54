import { ConcurrencyLimitExceededError } from '../errors/concurrency-limit-exceeded.error';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { PoolConcurrencyLimit } from './pool-concurrency-limit';

describe('PoolConcurrencyLimit (Gradient2 in front of a pool)', () => {
  let now = 0;
  const policy = { enabled: true, minLimit: 1, maxLimit: null, maxWaitMs: null };
  const make = (poolSize = 4, overrides = {}) =>
    new PoolConcurrencyLimit({ ...policy, ...overrides }, 'db', poolSize, () => now);
  const noop = () => undefined;

  /** Rounds of `parallel` borrows offered at once (those the limit admits) that each hold a connection `ms`. */
  function serve(limit: PoolConcurrencyLimit, rounds: number, ms: number, parallel: number) {
    for (let round = 0; round < rounds; round++) {
      const started: number[] = [];
      for (let j = 0; j < Math.min(parallel, limit.state().limit); j++) {
        if (limit.enter(undefined, noop) === true) started.push(now);
      }
      now += ms;
      for (const at of started) limit.leave(at);
    }
  }

  it('starts at the pool size and admits at once up to it, with no promise or timer', () => {
    const limit = make(4);
    for (let i = 0; i < 4; i++) expect(limit.enter(undefined, noop)).toBe(true);
    expect(limit.state()).toMatchObject({ limit: 4, inFlight: 4, waiting: 0, shed: 0 });
  });

  it('maxLimit, when set, wins over the pool size', () => {
    expect(make(10, { maxLimit: 3 }).state().limit).toBe(3);
  });

  it('past the limit: waits while the queue would be served within maxWaitMs, else shed at once', () => {
    const limit = make(2);
    serve(limit, 10, 10, 2); // connections held 10 ms: the default wait is 10 ms (half of 10 ms, at least 10)
    expect(limit.state()).toMatchObject({ limit: 2, latencyMs: 10 });
    const order: string[] = [];
    expect(limit.enter(undefined, noop)).toBe(true);
    expect(limit.enter(undefined, noop)).toBe(true);
    // Each waiter expects (position / limit) × 10 ms: two fit in 10 ms, the third would wait 15 ms.
    expect(limit.enter(undefined, () => order.push('a'))).toBeUndefined();
    expect(limit.enter(undefined, () => order.push('b'))).toBeUndefined();
    const shed = limit.enter(undefined, noop);
    expect(shed).toBeInstanceOf(ConcurrencyLimitExceededError);
    expect(shed).toMatchObject({ code: 'CONCURRENCY_LIMIT', database: 'db', limit: 2 });
    expect(limit.state()).toMatchObject({ inFlight: 2, waiting: 2, shed: 1 });
    now += 10;
    limit.leave(now - 10);
    expect(order).toEqual(['a']); // in order, as slots free up
    limit.leave(now - 10);
    expect(order).toEqual(['a', 'b']);
    expect(limit.state()).toMatchObject({ inFlight: 2, waiting: 0 });
  });

  it('a waiter not admitted within its wait is shed then; one whose deadline comes first gets the deadline', () => {
    jest.useFakeTimers();
    try {
      const limit = make(1, { maxWaitMs: 50 });
      expect(limit.enter(undefined, noop)).toBe(true);
      const outcomes: unknown[] = [];
      limit.enter(undefined, (error) => outcomes.push(error));
      limit.enter({ at: Date.now() + 20, ms: 20 }, (error) => outcomes.push(error));
      jest.advanceTimersByTime(25);
      expect(outcomes[0]).toBeInstanceOf(DeadlineExceededError);
      jest.advanceTimersByTime(30);
      expect(outcomes[1]).toBeInstanceOf(ConcurrencyLimitExceededError);
      expect(limit.state()).toMatchObject({ waiting: 0, inFlight: 1, shed: 1 });
    } finally {
      jest.useRealTimers();
    }
  });

  it('falls when the time connections are held grows past 1.5× its average, and climbs back when it recovers', () => {
    const limit = make(20);
    serve(limit, 20, 5, 20); // steady: 5 ms each, the pool full
    expect(limit.state().limit).toBe(20);
    serve(limit, 10, 50, 20); // the server slows tenfold
    const fallen = limit.state().limit;
    expect(fallen).toBeLessThan(12);
    expect(fallen).toBeGreaterThanOrEqual(1);
    serve(limit, 100, 5, 20); // back to normal
    expect(limit.state().limit).toBe(20);
  });

  it('does not fall while the app asks for less than half the limit, whatever the latency', () => {
    const limit = make(20);
    serve(limit, 20, 5, 4);
    serve(limit, 20, 500, 4);
    expect(limit.state().limit).toBe(20);
  });

  it('never falls below minLimit', () => {
    const limit = make(20, { minLimit: 5 });
    serve(limit, 10, 5, 20);
    for (let ms = 10; ms < 100_000; ms *= 2) serve(limit, 5, ms, 20);
    expect(limit.state().limit).toBe(5);
  });

  it('a borrow that failed frees its slot without a sample', () => {
    const limit = make(1);
    expect(limit.enter(undefined, noop)).toBe(true);
    limit.leave(undefined);
    expect(limit.state()).toMatchObject({ inFlight: 0, latencyMs: 0 });
  });
});
