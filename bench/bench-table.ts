import { Bench } from 'tinybench';

/** One row of a benchmark table: a case and its median time per call. */
export interface BenchRow {
  name: string;
  medianNs: number;
  p99Ns: number;
  /** Median divided by the baseline's median, measured in the same run. */
  vsBaseline: number;
}

export interface BenchTable {
  title: string;
  baseline: string;
  rows: BenchRow[];
}

/**
 * Times each case over batches of `batch` calls (a single sub-microsecond call is below the timer's resolution),
 * and reports per-call figures beside the first case, the baseline.
 */
export async function measure(
  title: string,
  cases: ReadonlyArray<readonly [string, () => unknown]>,
  { batch = 1000, time = 1000 } = {},
): Promise<BenchTable> {
  const bench = new Bench({ time, warmupTime: 200 });
  let sink: unknown;
  for (const [name, fn] of cases) {
    bench.add(name, () => {
      for (let i = 0; i < batch; i++) sink = fn();
    });
  }
  await bench.run();
  if (sink === Symbol.for('never')) process.stdout.write(''); // keep the results alive
  const perCall = bench.tasks.map((task) => {
    const result = task.result as { latency?: { p50?: number; p99?: number } } | undefined;
    const latency = result?.latency;
    return {
      name: task.name,
      medianNs: ((latency?.p50 ?? NaN) * 1e6) / batch,
      p99Ns: ((latency?.p99 ?? NaN) * 1e6) / batch,
    };
  });
  const baseline = perCall[0];
  return {
    title,
    baseline: baseline.name,
    rows: perCall.map((row) => ({ ...row, vsBaseline: row.medianNs / baseline.medianNs })),
  };
}

export function toMarkdown(table: BenchTable): string {
  const lines = [
    `### ${table.title}`,
    '',
    `| case | median per call | p99 per call | × ${table.baseline} |`,
    '|---|---:|---:|---:|',
    ...table.rows.map(
      (r) => `| ${r.name} | ${formatNs(r.medianNs)} | ${formatNs(r.p99Ns)} | ${r.vsBaseline.toFixed(1)} |`,
    ),
  ];
  return lines.join('\n');
}

function formatNs(ns: number): string {
  return ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`;
}
