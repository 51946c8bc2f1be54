import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { printTable, toMarkdown, type BenchTable } from './bench-table';
import { breakerBenches } from './breaker.bench';
import { classifierBench } from './classifier.bench';
import { guardOverheadBench } from './guard-overhead.bench';
import { httpOverheadBench } from './http-overhead.bench';
import { recordingBench } from './recording.bench';
import { retryableOverheadBench } from './retryable-overhead.bench';
import { stormGoodputBench } from './storm-goodput.bench';

/** Every benchmark, in one run; prints the tables and writes docs/BENCHMARKS.md. */
const BENCHMARKS: ReadonlyArray<() => Promise<BenchTable | BenchTable[]>> = [
  classifierBench,
  retryableOverheadBench,
  stormGoodputBench,
  recordingBench,
  breakerBenches,
  guardOverheadBench,
  httpOverheadBench,
];

async function main(): Promise<void> {
  const tables: BenchTable[] = [];
  for (const bench of BENCHMARKS) {
    for (const table of [await bench()].flat()) {
      printTable(table);
      tables.push(table);
    }
  }
  const cpu = cpus();
  const machine = `${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const document = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (it builds, then runs `node --expose-gc dist/bench/run-all.js`; the storm needs the local',
    'MariaDB of `.env.example`). Every figure sits beside a baseline measured in the same run.',
    '',
    `Machine: ${machine}. Run: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    ...tables.flatMap((t) => [toMarkdown(t), '']),
  ].join('\n');
  writeFileSync(join(__dirname, '..', '..', 'docs', 'BENCHMARKS.md'), document);
  console.log('\nwrote docs/BENCHMARKS.md');
}

void main();
