import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { failoverBench } from './failover.bench';

/** Writer failover behind an endpoint, on servers of its own (MariaDB and PostgreSQL): prints, writes. */
async function main(): Promise<void> {
  const table = await failoverBench();
  printTable(table);
  writeBenchmarksSection('failover', 'Writer failover', [table], 1700);
}
void main();
