import { admissionStormBench } from './admission-storm.bench';
import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';

/** Deadlock-aware admission in the storm (the local MariaDB): prints the table and writes its section. */
async function main(): Promise<void> {
  const table = await admissionStormBench();
  printTable(table);
  writeBenchmarksSection('admission', 'Deadlock-aware admission (MariaDB)', [table], 1500);
}
void main();
