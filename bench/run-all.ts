import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { printTable, toMarkdown, type BenchTable } from './bench-table';
import { breakerBenches } from './breaker.bench';
import { classifierBench } from './classifier.bench';
import { fleetRecordingBench } from './fleet-recording.bench';
import { guardOverheadBench } from './guard-overhead.bench';
import { httpOverheadBench } from './http-overhead.bench';
import { recordingBench } from './recording.bench';
import { requestPipelineBench } from './request-pipeline.bench';
import { retryableOverheadBench } from './retryable-overhead.bench';
import { stormGoodputBench } from './storm-goodput.bench';

/** Every benchmark, in one run; prints the tables and writes docs/BENCHMARKS.md. */
const BENCHMARKS: ReadonlyArray<() => Promise<BenchTable | BenchTable[]>> = [
  classifierBench,
  retryableOverheadBench,
  stormGoodputBench,
  recordingBench,
  fleetRecordingBench,
  breakerBenches,
  guardOverheadBench,
  httpOverheadBench,
  requestPipelineBench,
];

const SECTION_MARK = '<!-- node ';

/** The sections of earlier runs on other Node versions, by major version. */
function existingSections(file: string): Array<[number, string]> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split(SECTION_MARK)
    .slice(1)
    .map((text) => [Number(text.slice(0, text.indexOf(' '))), SECTION_MARK + text] as [number, string]);
}

async function main(): Promise<void> {
  const tables: BenchTable[] = [];
  for (const bench of BENCHMARKS) {
    for (const table of [await bench()].flat()) {
      printTable(table);
      tables.push(table);
    }
  }
  const cpu = cpus();
  const major = process.versions.node.split('.')[0];
  const section = [
    `${SECTION_MARK}${major} -->`,
    `## Node ${major}`,
    '',
    `Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores), ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
      `Node ${process.version}. Run: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    ...tables.flatMap((t) => [toMarkdown(t), '']),
  ].join('\n');
  const file = join(__dirname, '..', '..', 'docs', 'BENCHMARKS.md');
  // One section per Node major version: this run replaces its own and keeps the others'.
  const sections = new Map(existingSections(file));
  sections.set(Number(major), section);
  const document = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (it builds, then runs `node --expose-gc dist/bench/run-all.js`; the storm needs the local',
    'MariaDB of `.env.example`), one section per Node version it ran on (run it with each: the section of that',
    'version is replaced, the others kept). Every figure sits beside a baseline measured in the same run.',
    '',
    ...[...sections.entries()].sort(([a], [b]) => a - b).map(([, text]) => text.trimEnd() + '\n'),
  ].join('\n');
  writeFileSync(file, document);
  console.log('\nwrote docs/BENCHMARKS.md');
}

void main();
