import { Bench } from 'tinybench';

/** A benchmark's result: a table, each figure beside the baseline measured in the same run. */
export interface BenchTable {
  title: string;
  columns: string[];
  rows: string[][];
  /** What the figures mean, how they were taken. */
  notes?: string[];
}

/**
 * Times each case over batches of `batch` calls (a single sub-microsecond call is below the timer resolution)
 * and reports per-call median and p99 beside the first case, the baseline. With `passes` above 1, every case is
 * timed once in each pass, in the same order, and the quietest pass of each case is kept: on a shared machine a
 * neighbour's burst then slows one pass of a case, not the case. `afterPass` undoes what a pass left behind.
 */
export async function measure(
  title: string,
  cases: ReadonlyArray<readonly [string, () => unknown]>,
  { batch = 1000, time = 1000, passes = 1, afterPass = () => {}, notes = [] as string[] } = {},
): Promise<BenchTable> {
  const perCall = cases.map(([name]) => ({ name, median: Infinity, p99: Infinity }));
  for (let pass = 0; pass < passes; pass++) {
    const bench = new Bench({ time, warmupTime: pass === 0 ? 300 : 50 });
    cases.forEach(([, fn], i) => {
      bench.add(String(i), async () => {
        for (let j = 0; j < batch; j++) {
          const result = fn();
          if (result instanceof Promise) await result;
        }
      });
    });
    await bench.run();
    afterPass();
    for (const task of bench.tasks) {
      const latency = (task.result as { latency?: { p50?: number; p99?: number } } | undefined)?.latency;
      const row = perCall[Number(task.name)];
      row.median = Math.min(row.median, ((latency?.p50 ?? NaN) * 1e6) / batch);
      row.p99 = Math.min(row.p99, ((latency?.p99 ?? NaN) * 1e6) / batch);
    }
  }
  const baseline = perCall[0];
  const method =
    passes > 1
      ? `Per call: batches of ${batch} calls, batch time divided by ${batch}; each case timed in ${passes} passes, ` +
        'its quietest pass kept (median and p99 each the lowest of its passes).'
      : `Per call: batches of ${batch} calls, batch time divided by ${batch}.`;
  return {
    title,
    columns: ['case', 'median per call', 'p99 per call', 'over the baseline (median)'],
    rows: perCall.map((r) => [
      r.name,
      formatNs(r.median),
      formatNs(r.p99),
      r === baseline
        ? '—'
        : `${r.median >= baseline.median ? '+' : '-'}${formatNs(Math.abs(r.median - baseline.median))}`,
    ]),
    notes: [method, ...notes],
  };
}

export function toMarkdown(table: BenchTable): string {
  return [
    `### ${table.title}`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `|${table.columns.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...table.rows.map((row) => `| ${row.join(' | ')} |`),
    ...(table.notes?.length ? ['', ...table.notes] : []),
  ].join('\n');
}

export function printTable(table: BenchTable): void {
  console.log(`\n${table.title}`);
  console.table(table.rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i]]))));
}

export function formatNs(ns: number): string {
  return Math.abs(ns) >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const middle = s.length / 2;
  return s.length % 2 ? s[Math.floor(middle)] : (s[middle - 1] + s[middle]) / 2;
}
