import { admissionStormBench } from './admission-storm.bench';
import { printTable } from './bench-table';
import { defaultsStormBench } from './defaults-storm.bench';
import { writeBenchmarksSection } from './benchmarks-document';

/** Deadlock-aware admission in the storm (the local MariaDB), tuned and untuned: prints the tables, writes their section. */
async function main(): Promise<void> {
  const tables = [await admissionStormBench(), await defaultsStormBench()];
  tables.forEach(printTable);
  writeBenchmarksSection('admission', 'Deadlock-aware admission (MariaDB)', tables, 1500);
}
void main();
