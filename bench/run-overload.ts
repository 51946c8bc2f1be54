import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { overloadBench } from './overload.bench';

/** The adaptive limit in front of the pool under overload (the local MariaDB): prints the table, writes its section. */
async function main(): Promise<void> {
  const table = await overloadBench();
  printTable(table);
  writeBenchmarksSection('overload', 'Adaptive concurrency limit under overload (MariaDB)', [table], 1600);
}
void main();
