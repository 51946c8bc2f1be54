import { printTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { galeraKillBench } from './galera-kill.bench';
import { galeraStormBench } from './galera-storm.bench';

/** The certification storm, then a node killed, each on a Galera cluster of its own: prints, writes. */
async function main(): Promise<void> {
  const storm = await galeraStormBench();
  printTable(storm);
  const kill = await galeraKillBench();
  printTable(kill);
  writeBenchmarksSection('galera', 'Galera', [storm, kill], 1800);
}
void main();
