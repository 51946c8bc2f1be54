import { backoffDelay, type BackoffPolicy } from './backoff';

const policy = (jitter: BackoffPolicy['jitter']): BackoffPolicy => ({ baseDelayMs: 50, maxDelayMs: 2000, jitter });

describe('backoffDelay', () => {
  it('without jitter doubles from the base delay up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(policy('none'), n, 0));
    expect(delays).toEqual([50, 100, 200, 400, 800, 1600, 2000]);
    expect(backoffDelay(policy('none'), 1000, 0)).toBe(2000);
  });

  it('full jitter stays within [0, exponential) and spreads over that range', () => {
    const samples = Array.from({ length: 2000 }, () => backoffDelay(policy('full'), 3, 0));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(200);
    // spread: each quarter of the range gets a fair share
    const quarters = [0, 0, 0, 0];
    samples.forEach((d) => quarters[Math.floor(d / 50)]++);
    quarters.forEach((count) => expect(count).toBeGreaterThan(350));
  });

  it('equal jitter stays within [half, exponential)', () => {
    expect(backoffDelay(policy('equal'), 3, 0, () => 0)).toBe(100);
    expect(backoffDelay(policy('equal'), 3, 0, () => 0.999)).toBe(199);
  });

  it('decorrelated jitter stays within [base, 3 × previous] and under the cap', () => {
    expect(backoffDelay(policy('decorrelated'), 2, 100, () => 0)).toBe(50);
    expect(backoffDelay(policy('decorrelated'), 2, 100, () => 0.999)).toBe(299);
    expect(backoffDelay(policy('decorrelated'), 9, 5000, () => 0.999)).toBe(2000);
  });
});
