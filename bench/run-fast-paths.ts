import { execFileSync } from 'node:child_process';
import { printTable, type BenchTable } from './bench-table';
import { writeBenchmarksSection } from './benchmarks-document';
import { breakerBenches } from './breaker.bench';

const CHILD = '--child';

interface NodeRun {
  node: string;
  tables: BenchTable[];
}

/**
 * The fast paths alone (an open breaker's rejection; the success path beside cockatiel's wrap(retry, breaker)) on
 * this Node and on each Node binary given as an argument, one after the other in the same run; writes the
 * `fast paths` section of docs/BENCHMARKS.md with a summary against the targets.
 */
async function main(): Promise<void> {
  const [first, ...others] = process.argv.slice(2);
  if (first === CHILD) {
    process.stdout.write(JSON.stringify({ node: process.version, tables: await breakerBenches() }));
    return;
  }
  const runs: NodeRun[] = [{ node: process.version, tables: await breakerBenches() }];
  for (const binary of [first, ...others].filter(Boolean)) {
    const output = execFileSync(binary, [__filename, CHILD], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
    runs.push(JSON.parse(output) as NodeRun);
  }
  const tables = [
    summary(runs),
    ...runs.flatMap(({ node, tables }) => tables.map((t) => ({ ...t, title: `Node ${node}: ${t.title}` }))),
  ];
  tables.forEach(printTable);
  writeBenchmarksSection('fast paths', 'Fast paths on each Node version', tables);
}

/** Per Node: the rejection against 1 µs, and the success path's added cost as a share of cockatiel's. */
function summary(runs: NodeRun[]): BenchTable {
  return {
    title:
      "Fast paths against their targets (rejection at most 1 µs; success path at most 0.3× cockatiel's added cost)",
    columns: [
      'Node',
      'open breaker: execute() rejects',
      'cockatiel open breaker',
      '@Retryable() added',
      'cockatiel wrap(retry, breaker) added',
      '× cockatiel',
      'AsyncLocalStorage.run() alone added',
    ],
    rows: runs.map(({ node, tables: [rejection, closed] }) => {
      const added = (name: string) => cell(closed, name, 3);
      return [
        node,
        cell(rejection, 'execute() rejects', 1),
        cell(rejection, 'cockatiel', 1),
        added('@Retryable()'),
        added('cockatiel'),
        (nanoseconds(added('@Retryable()')) / nanoseconds(added('cockatiel'))).toFixed(2),
        added('AsyncLocalStorage.run()'),
      ];
    }),
    notes: ['Medians; the tables below are the runs they come from.'],
  };
}

function cell(table: BenchTable, caseIncludes: string, column: number): string {
  return table.rows.find((row) => row[0].includes(caseIncludes))?.[column] ?? '—';
}

/** Back from a formatted figure ("+277.0 ns", "1.12 µs") to nanoseconds. */
function nanoseconds(figure: string): number {
  const value = Number.parseFloat(figure.replace(/^[+-]/, ''));
  return figure.endsWith('µs') ? value * 1000 : value;
}

void main();
