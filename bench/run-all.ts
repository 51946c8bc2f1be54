import { printTable, type BenchTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
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

async function main(): Promise<void> {
  const tables: BenchTable[] = [];
  for (const bench of BENCHMARKS) {
    for (const table of [await bench()].flat()) {
      printTable(table);
      tables.push(table);
    }
  }
  const major = process.versions.node.split('.')[0];
  writeBenchmarksSection(`node ${major}`, `Node ${major}`, tables, Number(major));
}

void main();
