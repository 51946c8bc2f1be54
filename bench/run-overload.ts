import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { overloadBench } from './overload.bench';

/** The adaptive limit in front of the pool under overload (the local MariaDB and PostgreSQL; MariaDB again with the app's CPU short): prints, writes. */
async function main(): Promise<void> {
  const tables = [await overloadBench('mysql'), await overloadBench('postgres'), await overloadBench('mysql', true)];
  tables.forEach(printTable);
  writeBenchmarksSection('overload', 'Adaptive concurrency limit under overload', tables, 1600);
}
void main();
