import { RetryBudgetExhaustedError, type ResilienceEvent } from 'nestjs-database-resilience';
import type { RawSession, ServerTarget } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

const CALLERS = 20;
const REQUESTS_PER_CALLER = 2;
const MAX_ATTEMPTS = 5;
const RATIO = 0.2;
const MIN_PER_SECOND = 1;
const WINDOW_MS = 10_000;

/**
 * A persistent, retryable failure: a row held by another transaction, so that every attempt ends in a lock wait
 * timeout (1205, retried as a whole transaction). 20 callers each make 2 requests. Without a budget every request
 * takes all its attempts; with one, the attempts per request stay within 1 + ratio (+ the minimum rate).
 */
describe('retry budget: a struggling server gets the traffic plus a bounded share of retries, not N × maxAttempts', () => {
  let scratch: ServerTarget & { restoreEnv(): Promise<void> };
  let holder: RawSession;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_budget');
    holder = await scratch.connect();
    await holder.query('CREATE TABLE hot (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB');
    await holder.query('INSERT INTO hot VALUES (1, 0)');
    await holder.query('START TRANSACTION');
    await holder.query('SELECT n FROM hot WHERE id = 1 FOR UPDATE'); // held for the whole spec
  }, 60_000);

  afterAll(async () => {
    await holder?.query('ROLLBACK').catch(() => undefined);
    await holder?.end();
    await scratch?.restoreEnv();
  });

  /** The load: what the server saw (attempts), per request, and what the callers got. */
  async function run(enabled: boolean) {
    let app: ResilientApp | undefined;
    try {
      app = await resilientApp({
        database: scratch.database,
        poolSize: CALLERS,
        options: {
          healthCheck: { enabled: false },
          retry: { maxAttempts: MAX_ATTEMPTS, baseDelayMs: 10, maxDelayMs: 50, budgetMs: 60_000 },
          retryBudget: { enabled, ratio: RATIO, minRetriesPerSecond: MIN_PER_SECOND, windowMs: WINDOW_MS },
        },
      });
      const resilience = app.resilience;
      const outcomes: unknown[] = [];
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          for (let i = 0; i < REQUESTS_PER_CALLER; i++) {
            outcomes.push(
              await resilience
                .transaction(async (manager) => {
                  await manager.query('SET SESSION innodb_lock_wait_timeout = 1');
                  await manager.query('UPDATE hot SET n = n + 1 WHERE id = 1');
                })
                .catch((error: unknown) => error),
            );
          }
        }),
      );
      const failed = app.events.filter(
        (e): e is Extract<ResilienceEvent, { type: 'attempt-failed' }> => e.type === 'attempt-failed',
      );
      return {
        requests: outcomes.length,
        firstAttempts: failed.filter((e) => e.attempt === 1).length,
        attempts: failed.length,
        refusedByBudget: outcomes.filter((o) => o instanceof RetryBudgetExhaustedError).length,
        lockWaits: failed.filter((e) => e.error.category === 'lock_timeout').length,
      };
    } finally {
      await app?.close();
    }
  }

  it('without a budget every request makes all its attempts; with one, attempts per request stay within 1 + ratio', async () => {
    const unbounded = await run(false);
    const bounded = await run(true);
    const requests = CALLERS * REQUESTS_PER_CALLER;
    const perRequest = (r: { attempts: number; requests: number }) => r.attempts / r.requests;
    console.log(
      `[retry budget] attempts per request: without ${perRequest(unbounded).toFixed(2)}, ` +
        `with ${perRequest(bounded).toFixed(2)} (bound ${(1 + RATIO + (MIN_PER_SECOND * WINDOW_MS) / 1000 / requests).toFixed(2)})`,
    );
    // Every request was tried: the budget never blocks a first attempt.
    expect(unbounded).toMatchObject({ requests, firstAttempts: requests, refusedByBudget: 0 });
    expect(bounded).toMatchObject({ requests, firstAttempts: requests });
    // Without the budget: the multiplication, maxAttempts per request.
    expect(perRequest(unbounded)).toBe(MAX_ATTEMPTS);
    // With it: first attempts, plus ratio × them, plus the minimum rate over (at most) one window of the run.
    const minimum = (MIN_PER_SECOND * WINDOW_MS) / 1000;
    expect(bounded.attempts - bounded.firstAttempts).toBeLessThanOrEqual(RATIO * bounded.firstAttempts + minimum + 1);
    expect(bounded.refusedByBudget).toBeGreaterThan(0);
    // What was recorded is still the lock wait each attempt met.
    expect(bounded.lockWaits).toBe(bounded.attempts);
  }, 120_000);
});
