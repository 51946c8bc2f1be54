import { type ResilienceEventOf } from 'nestjs-database-resilience';
import { evaluateChaos, type ChaosRun } from './chaos-checks';
import type { LoadRecord } from './chaos-load';

const UP_AT = 1_000_000;
const breaker = (
  state: ResilienceEventOf<'breaker-state'>['state'],
  at: number,
): ResilienceEventOf<'breaker-state'> => ({
  type: 'breaker-state',
  at,
  database: 'default',
  state,
});
const transfer = (key: string, status: number, startedAt = UP_AT + 500, ms = 20): LoadRecord => ({
  kind: 'transfer',
  key,
  status,
  startedAt,
  ms,
});

/** A run where everything went right; each test spoils one thing. */
function goodRun(): ChaosRun {
  return {
    deadlineMs: 5000,
    records: [transfer('a', 201), transfer('b', 503), transfer('c', 201, UP_AT + 2000)],
    applied: new Map([
      ['a', 1],
      ['c', 1],
    ]),
    balanceSum: 100,
    expectedSum: 100,
    transitions: [breaker('open', 1), breaker('closed', 2)],
    recoveries: [{ fault: 'outage', upAt: UP_AT }],
    heapAfterWarmUp: 40 * 2 ** 20,
    heapAtEnd: 42 * 2 ** 20,
    print: () => undefined,
  };
}
const failed = (run: ChaosRun) =>
  evaluateChaos(run)
    .filter((c) => !c.passed)
    .map((c) => c.name);

describe('evaluateChaos', () => {
  it('passes a run where everything went right', () => {
    expect(failed(goodRun())).toEqual([]);
  });

  it('where nothing may open the breaker (a cluster whose other nodes serve), fails a run in which it opened', () => {
    const cluster = { ...goodRun(), breaker: 'closed' as const, transitions: [] };
    expect(failed(cluster)).toEqual([]);
    expect(failed({ ...cluster, transitions: [breaker('open', 1), breaker('closed', 2)] })).toEqual([
      'the breaker never opened (the other nodes kept serving)',
    ]);
  });

  it('fails on an acknowledged transfer missing or applied twice', () => {
    const missing = goodRun();
    missing.applied.delete('a');
    expect(failed(missing)).toEqual(['every acknowledged transfer is in the ledger exactly once']);
    const doubled = goodRun();
    doubled.applied.set('a', 2);
    expect(failed(doubled)).toEqual(['every acknowledged transfer is in the ledger exactly once']);
  });

  it('fails on an unacknowledged transfer applied twice, not once', () => {
    const once = goodRun();
    once.applied.set('b', 1);
    expect(failed(once)).toEqual([]);
    const twice = goodRun();
    twice.applied.set('b', 2);
    expect(failed(twice)).toEqual(['no unacknowledged transfer is in the ledger twice']);
  });

  it('fails on money made or lost, a late request, a breaker that never closed, memory growth, slow recovery', () => {
    const run = goodRun();
    run.balanceSum = 99;
    run.records.push(transfer('d', 503, UP_AT + 100, 6500));
    run.transitions = [breaker('open', 1)];
    run.heapAtEnd = run.heapAfterWarmUp + 8 * 2 ** 20;
    run.recoveries = [{ fault: 'outage', upAt: UP_AT - 20_000 }];
    expect(failed(run)).toEqual([
      "the balances' sum is unchanged",
      'no request waited past its deadline (5000 ms + 1000 ms slack)',
      'the breaker opened and closed again',
      'memory flat after warm-up (heap after GC grows by less than 5 MB)',
      'recovery after the outage within one health-check interval + 100 ms',
    ]);
  });
});
