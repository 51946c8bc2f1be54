import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { galeraStormBench } from './galera-storm.bench';

/** The certification storm on a Galera cluster of its own: prints, writes. */
async function main(): Promise<void> {
  const table = await galeraStormBench();
  printTable(table);
  writeBenchmarksSection('galera', 'Galera', [table], 1800);
}
void main();
