import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { toMarkdown, type BenchTable } from './bench-table';
import { classifierBench } from './classifier.bench';

/** Every benchmark, in one run; prints the tables and writes docs/BENCHMARKS.md. */
const BENCHMARKS: ReadonlyArray<() => Promise<BenchTable>> = [classifierBench];

async function main(): Promise<void> {
  const tables: BenchTable[] = [];
  for (const bench of BENCHMARKS) {
    const table = await bench();
    tables.push(table);
    console.table(
      table.rows.map((r) => ({
        case: r.name,
        'median ns': r.medianNs.toFixed(1),
        'p99 ns': r.p99Ns.toFixed(1),
        [`× baseline`]: r.vsBaseline.toFixed(1),
      })),
    );
  }
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const document = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (which builds, then runs `node dist/bench/run-all.js`). Every figure sits beside a',
    'baseline measured in the same run. Figures are per call: each case runs in batches of 1000 calls (a single',
    'sub-microsecond call is below the timer resolution) and the batch time is divided by 1000.',
    '',
    `Machine: ${machine}. Run: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    ...tables.flatMap((t) => [toMarkdown(t), '']),
  ].join('\n');
  writeFileSync(join(__dirname, '..', '..', 'docs', 'BENCHMARKS.md'), document);
  console.log('wrote docs/BENCHMARKS.md');
}

void main();
