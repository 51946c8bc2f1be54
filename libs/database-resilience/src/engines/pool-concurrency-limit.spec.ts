import { ConcurrencyLimitExceededError } from '../errors/concurrency-limit-exceeded.error';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { PoolConcurrencyLimit } from './pool-concurrency-limit';

/** What a guard does: at once when the limit allows, else wait or be shed. */
const enter = (
  limit: PoolConcurrencyLimit,
  deadline: { at: number; ms: number } | undefined,
  entered: (error?: Error) => unknown,
) => limit.tryEnter() ?? limit.enter(deadline, entered);

describe('PoolConcurrencyLimit (Gradient2 in front of a pool)', () => {
  let now = 0;
  const policy = { enabled: true, minLimit: 1, maxLimit: null, maxWaitMs: null };
  let lagMs = 0;
  beforeEach(() => (lagMs = 0));
  const make = (poolSize = 4, overrides = {}) =>
    new PoolConcurrencyLimit(
      { ...policy, ...overrides },
      'db',
      poolSize,
      () => now,
      () => lagMs,
    );
  const noop = () => undefined;

  /** `count` borrows of `ms` each, `parallel` in flight at a time (or as many as the limit lets in). */
  function serve(limit: PoolConcurrencyLimit, count: number, ms: number, parallel: number) {
    const inFlight: Array<{ ticket: number; endsAt: number }> = [];
    const end = () => {
      const first = inFlight.shift()!;
      now = Math.max(now, first.endsAt);
      limit.leave(first.ticket, true);
    };
    for (let i = 0; i < count; i++) {
      while (inFlight.length >= Math.min(parallel, limit.state().limit)) end();
      const ticket = limit.tryEnter();
      if (ticket !== undefined) inFlight.push({ ticket, endsAt: now + ms });
    }
    while (inFlight.length > 0) end();
  }

  it('starts at the pool size and admits at once up to it, with no promise or timer', () => {
    const limit = make(4);
    for (let i = 0; i < 4; i++) expect(enter(limit, undefined, noop)).toEqual(expect.any(Number));
    expect(limit.state()).toMatchObject({ limit: 4, inFlight: 4, waiting: 0, shed: 0 });
  });

  it('maxLimit, when set, wins over the pool size', () => {
    expect(make(10, { maxLimit: 3 }).state().limit).toBe(3);
  });

  it('past the limit: waits while it would be admitted within maxWaitMs, by when those in flight began; else shed', () => {
    const limit = make(2);
    serve(limit, 20, 10, 2); // connections held 10 ms: the default wait is 10 ms (half of 10 ms, at least 10)
    expect(limit.state()).toMatchObject({ limit: 2, latencyMs: 10 });
    const order: string[] = [];
    const first = enter(limit, undefined, noop) as number;
    now += 6;
    const second = enter(limit, undefined, noop) as number;
    // The first ends in 4 ms, the second in 10: two waiters fit in 10 ms; a third would wait for the first's
    // successor to end, 14 ms from now.
    expect(enter(limit, undefined, () => order.push('a'))).toBeUndefined();
    expect(enter(limit, undefined, () => order.push('b'))).toBeUndefined();
    const shed = enter(limit, undefined, noop);
    expect(shed).toBeInstanceOf(ConcurrencyLimitExceededError);
    expect(shed).toMatchObject({ code: 'CONCURRENCY_LIMIT', database: 'db', limit: 2 });
    expect(limit.state()).toMatchObject({ inFlight: 2, waiting: 2, shed: 1 });
    now += 4;
    limit.leave(first, true);
    expect(order).toEqual(['a']); // in order, as slots free up
    limit.leave(second, true);
    expect(order).toEqual(['a', 'b']);
    expect(limit.state()).toMatchObject({ inFlight: 2, waiting: 0 });
  });

  it('borrows begun together end together: a waiter is shed at once rather than promised the average share', () => {
    const limit = make(4);
    serve(limit, 40, 40, 4); // 40 ms each: a wait of up to 20 ms
    for (let i = 0; i < 4; i++) enter(limit, undefined, noop); // all four begin now: none ends for 40 ms
    // By count and average a waiter would go in after 10 ms; by when they began, after 40.
    expect(enter(limit, undefined, noop)).toBeInstanceOf(ConcurrencyLimitExceededError);
    now += 25;
    expect(enter(limit, undefined, noop)).toBeUndefined(); // 15 ms to go: it waits
  });

  it('times that vary keep fewer waiters: a promise of the average plus four mean deviations', () => {
    const limit = make(1);
    for (let i = 0; i < 40; i++) {
      const started = enter(limit, undefined, noop) as number;
      now += i % 2 === 0 ? 5 : 15; // 10 ms on average, 5 ms from it
      limit.leave(started, true);
    }
    expect(enter(limit, undefined, noop)).toEqual(expect.any(Number));
    now += 9; // it ends in about 1 ms: with the deviation, about 21 ms more than the 10 ms it may wait
    expect(enter(limit, undefined, noop)).toBeInstanceOf(ConcurrencyLimitExceededError);
  });

  it('admission(): the ticket under the limit; past it a promise, rejected when shed', async () => {
    const limit = make(1);
    serve(limit, 10, 40, 1); // 40 ms each: a wait of up to 20 ms
    expect(limit.admission(undefined)).toEqual(expect.any(Number)); // ends in 40 ms
    await expect(limit.admission(undefined)).rejects.toBeInstanceOf(ConcurrencyLimitExceededError);
    expect(limit.state()).toMatchObject({ inFlight: 1, waiting: 0, shed: 1 });
  });

  it('a waiter not admitted within its wait is shed then; one whose deadline comes first gets the deadline', () => {
    jest.useFakeTimers();
    try {
      const limit = make(1, { maxWaitMs: 50 });
      expect(typeof enter(limit, undefined, noop)).toBe('number');
      const outcomes: unknown[] = [];
      enter(limit, undefined, (error) => outcomes.push(error));
      enter(limit, { at: Date.now() + 20, ms: 20 }, (error) => outcomes.push(error));
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
    serve(limit, 400, 5, 20); // steady: 5 ms each, the pool full
    expect(limit.state().limit).toBe(20);
    serve(limit, 100, 50, 20); // the server slows tenfold
    const fallen = limit.state().limit;
    expect(fallen).toBeLessThan(12);
    expect(fallen).toBeGreaterThanOrEqual(1);
    serve(limit, 2000, 5, 20); // back to normal
    expect(limit.state().limit).toBe(20);
  });

  it("the app's own event-loop lag is taken off each time: a starved app is not a slow database", () => {
    const limit = make(20);
    serve(limit, 400, 5, 20);
    lagMs = 45; // borrows take 50 ms, 45 of them waiting for the app's event loop
    serve(limit, 100, 50, 20);
    expect(limit.state()).toMatchObject({ limit: 20, latencyMs: 5 });
    lagMs = 0; // the same times with a loop on time: the database is slow, the limit falls
    serve(limit, 100, 50, 20);
    expect(limit.state().limit).toBeLessThan(12);
  });

  it('does not fall while the app asks for less than half the limit, whatever the latency', () => {
    const limit = make(20);
    serve(limit, 80, 5, 4);
    serve(limit, 80, 500, 4);
    expect(limit.state().limit).toBe(20);
  });

  it('never falls below minLimit', () => {
    const limit = make(20, { minLimit: 5 });
    serve(limit, 200, 5, 20);
    for (let ms = 10; ms < 100_000; ms *= 2) serve(limit, 50, ms, 20);
    expect(limit.state().limit).toBe(5);
  });

  it('far below its limit, one borrow in eight reads the clock; the long average still learns', () => {
    let reads = 0;
    const limit = new PoolConcurrencyLimit(policy, 'db', 20, () => {
      reads++;
      return now;
    });
    for (let i = 0; i < 80; i++) {
      const ticket = limit.tryEnter()!;
      now += 1;
      limit.leave(ticket, true);
    }
    expect(reads).toBe(20); // 10 borrows timed, each read at admission and at release
    expect(limit.state()).toMatchObject({ latencyMs: 1, inFlight: 0 });
  });

  it('a borrow that failed frees its slot without a sample', () => {
    const limit = make(1);
    const started = enter(limit, undefined, noop) as number;
    limit.leave(started, false);
    expect(limit.state()).toMatchObject({ inFlight: 0, latencyMs: 0 });
  });
});
