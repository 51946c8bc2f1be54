import { RetryBudget, type RetryBudgetPolicy } from './retry-budget';

const policy: RetryBudgetPolicy = { enabled: true, ratio: 0.2, minRetriesPerSecond: 0, windowMs: 10_000 };

/** Takes retries while the budget grants them, at most 1 000: a budget that never refuses fails, not hangs. */
function drain(budget: RetryBudget): number {
  let granted = 0;
  while (granted < 1000 && budget.tryRetry()) granted++;
  return granted;
}

describe('RetryBudget', () => {
  let now = 1_000_000;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  it('allows retries up to ratio × first attempts over the window, then refuses and counts', () => {
    const budget = new RetryBudget(policy, clock);
    for (let i = 0; i < 100; i++) budget.firstAttempt();
    expect(drain(budget)).toBe(20);
    expect(budget.tryRetry()).toBe(false);
    expect(budget.refused).toBe(2);
  });

  it('never refuses a first attempt, and a quiet service still gets its minimum rate', () => {
    const budget = new RetryBudget({ ...policy, minRetriesPerSecond: 1 }, clock);
    expect(drain(budget)).toBe(10); // 1 a second over a 10 s window, with no traffic at all
  });

  it('forgets what left the window: the budget refills as time passes', () => {
    const budget = new RetryBudget(policy, clock);
    for (let i = 0; i < 50; i++) budget.firstAttempt();
    drain(budget);
    expect(budget.available()).toBeLessThan(1);
    now += 10_000; // the whole window later: old attempts and retries are gone
    expect(budget.available()).toBe(0);
    for (let i = 0; i < 50; i++) budget.firstAttempt();
    expect(budget.available()).toBe(10);
  });

  it('slides: retries of 5 s ago still count, those of 11 s ago no longer', () => {
    const budget = new RetryBudget(policy, clock);
    for (let i = 0; i < 50; i++) budget.firstAttempt();
    for (let i = 0; i < 10; i++) expect(budget.tryRetry()).toBe(true);
    now += 5_000;
    for (let i = 0; i < 50; i++) budget.firstAttempt();
    expect(budget.available()).toBe(10); // 0.2 × 100 first attempts, less the 10 retries still in the window
    now += 6_000;
    expect(budget.available()).toBe(10); // 0.2 × the 50 left; the 10 retries left with their first attempts
  });

  it('a steady stream: each first attempt counts in the bucket of its time, and leaves with it', () => {
    const budget = new RetryBudget(policy, clock);
    for (let i = 0; i < 250; i++) {
      budget.firstAttempt(now);
      now += 100;
    }
    // 25 s at 10 a second: the window holds the last 10 s, within one bucket (1 s) of them.
    expect(budget.available()).toBeGreaterThanOrEqual(18);
    expect(budget.available()).toBeLessThanOrEqual(20);
  });

  it('a clock that steps back a whole window: first attempts still count, none in a bucket marked gone', () => {
    const budget = new RetryBudget(policy, clock);
    for (let i = 0; i < 50; i++) budget.firstAttempt(now);
    now -= 20_000;
    for (let i = 0; i < 50; i++) budget.firstAttempt(now);
    expect(budget.available()).toBe(10); // the 50 of the earlier time; those of the later one are outside its window
    now += 20_000; // and forward again: the 50 of the earlier time are outside this window
    for (let i = 0; i < 50; i++) budget.firstAttempt(now);
    expect(budget.available()).toBe(10);
  });

  it('off: every retry is allowed', () => {
    const budget = new RetryBudget({ ...policy, enabled: false }, clock);
    for (let i = 0; i < 1000; i++) expect(budget.tryRetry()).toBe(true);
    expect(budget.refused).toBe(0);
  });
});
