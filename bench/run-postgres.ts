import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { postgresStormBench } from './postgres-storm.bench';

/** The PostgreSQL benchmarks (the local server): prints the table and writes their section of docs/BENCHMARKS.md. */
async function main(): Promise<void> {
  const table = await postgresStormBench();
  printTable(table);
  writeBenchmarksSection('postgres', 'PostgreSQL', [table]);
}
void main();
