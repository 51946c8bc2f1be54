import { type ResilienceEventOf } from 'nestjs-database-resilience';
import type { LoadRecord } from './chaos-load';

/** What the run checks and prints; each check passes or fails the run. */
export interface ChaosCheck {
  name: string;
  passed: boolean;
  detail: string;
}

/** What a request may take beyond its deadline: the answer's own trip, timers on a busy 2-core machine. */
const DEADLINE_SLACK_MS = 1000;
const HEALTH_INTERVAL_MS = 10_000; // the module's default
const HEAP_GROWTH_LIMIT = 5 * 2 ** 20;

export interface ChaosRun {
  deadlineMs: number;
  records: LoadRecord[];
  /** Transfers in the ledger, by Idempotency-Key. */
  applied: Map<string, number>;
  balanceSum: number;
  expectedSum: number;
  transitions: ResilienceEventOf<'breaker-state'>[];
  /** When the server accepted connections again after each fault. */
  recoveries: Array<{ fault: string; upAt: number }>;
  heapAfterWarmUp: number;
  heapAtEnd: number;
  /** 'cycle' (default): an outage opens the breaker and it closes again; 'closed': nothing may open it. */
  breaker?: 'cycle' | 'closed';
  print: (line: string) => void;
}

/** Prints the answers by status and checks the run: data exactly once, money kept, deadlines, breaker, memory, recovery. */
export function evaluateChaos(run: ChaosRun): ChaosCheck[] {
  const { records, applied } = run;
  const transfers = records.filter((r) => r.kind === 'transfer');
  const acknowledged = transfers.filter((r) => r.status === 201);
  const unacknowledged = transfers.filter((r) => r.status !== 201);
  const missingOrDoubled = acknowledged.filter((r) => applied.get(r.key!) !== 1);
  const doubledUnacked = unacknowledged.filter((r) => (applied.get(r.key!) ?? 0) > 1);
  const slowest = records.reduce((max, r) => Math.max(max, r.ms), 0);
  const late = records.filter((r) => r.ms > run.deadlineMs + DEADLINE_SLACK_MS);
  const opened = run.transitions.some((t) => t.state === 'open');
  const closedAfter = run.transitions.some(
    (t, i) => t.state === 'closed' && run.transitions.slice(0, i).some((o) => o.state === 'open'),
  );
  const statuses = new Map<string, number>();
  for (const r of records) {
    const key = r.status === 0 ? `network ${r.code}` : `${r.status}${r.code ? ` ${r.code}` : ''}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  }
  run.print('');
  run.print('answers:');
  for (const [status, count] of [...statuses].sort((a, b) => b[1] - a[1]))
    run.print(`  ${String(count).padStart(7)}  ${status}`);

  const checks: ChaosCheck[] = [
    {
      name: 'every acknowledged transfer is in the ledger exactly once',
      passed: acknowledged.length > 0 && missingOrDoubled.length === 0,
      detail: `${acknowledged.length} acknowledged, ${missingOrDoubled.length} missing or doubled`,
    },
    {
      name: 'no unacknowledged transfer is in the ledger twice',
      passed: doubledUnacked.length === 0,
      detail: `${unacknowledged.length} not acknowledged, of which ${unacknowledged.filter((r) => applied.has(r.key!)).length} applied once (outcome unknown to the client), ${doubledUnacked.length} twice`,
    },
    {
      name: "the balances' sum is unchanged",
      passed: run.balanceSum === run.expectedSum,
      detail: `${run.balanceSum} (expected ${run.expectedSum})`,
    },
    {
      name: `no request waited past its deadline (${run.deadlineMs} ms + ${DEADLINE_SLACK_MS} ms slack)`,
      passed: late.length === 0,
      detail: `slowest ${Math.round(slowest)} ms; ${late.length} late`,
    },
    run.breaker === 'closed'
      ? {
          name: 'the breaker never opened (the other nodes kept serving)',
          passed: !opened,
          detail: run.transitions.map((t) => t.state).join(' → ') || 'no transition',
        }
      : {
          name: 'the breaker opened and closed again',
          passed: opened && closedAfter,
          detail: run.transitions.map((t) => t.state).join(' → ') || 'no transition',
        },
    {
      name: 'memory flat after warm-up (heap after GC grows by less than 5 MB)',
      passed: run.heapAfterWarmUp > 0 && run.heapAtEnd - run.heapAfterWarmUp < HEAP_GROWTH_LIMIT,
      detail: `${mb(run.heapAfterWarmUp)} → ${mb(run.heapAtEnd)}`,
    },
  ];
  for (const recovery of run.recoveries) {
    const firstSuccess = records
      .filter((r) => r.status >= 200 && r.status < 300 && r.startedAt >= recovery.upAt)
      .reduce((first, r) => Math.min(first, r.startedAt + r.ms), Infinity);
    const ms = firstSuccess - recovery.upAt;
    checks.push({
      name: `recovery after the ${recovery.fault} within one health-check interval + 100 ms`,
      passed: ms <= HEALTH_INTERVAL_MS + 100,
      detail: Number.isFinite(ms)
        ? `${Math.round(ms)} ms from the server accepting to the first success`
        : 'no success',
    });
  }
  return checks;
}

export function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}
