import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { toMarkdown, type BenchTable } from './bench-table';

const SECTION_MARK = '<!-- ';

/** The sections of docs/BENCHMARKS.md, by key (`node 22`, `postgres`), each with the order it sorts in. */
function existingSections(file: string): Map<string, { order: number; text: string }> {
  const sections = new Map<string, { order: number; text: string }>();
  if (!existsSync(file)) return sections;
  for (const text of readFileSync(file, 'utf8').split(SECTION_MARK).slice(1)) {
    const key = text.slice(0, text.indexOf(' -->'));
    const node = /^node (\d+)$/.exec(key);
    sections.set(key, { order: node ? Number(node[1]) : 1000, text: SECTION_MARK + text });
  }
  return sections;
}

/**
 * Writes one section of docs/BENCHMARKS.md (one per Node major version for `npm run bench`, one for the PostgreSQL
 * storm of `npm run bench:postgres`): this run replaces its own section and keeps the others.
 */
export function writeBenchmarksSection(key: string, heading: string, tables: BenchTable[], order = 1000): void {
  const cpu = cpus();
  const section = [
    `${SECTION_MARK}${key} -->`,
    `## ${heading}`,
    '',
    `Machine: ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores), ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
      `Node ${process.version}. Run: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    ...tables.flatMap((t) => [toMarkdown(t), '']),
  ].join('\n');
  const file = join(__dirname, '..', '..', 'docs', 'BENCHMARKS.md');
  const sections = existingSections(file);
  sections.set(key, { order, text: section });
  const document = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (it builds, then runs `node --expose-gc dist/bench/run-all.js`; the storm needs the local',
    'MariaDB of `.env.example`), one section per Node version it ran on (run it with each: the section of that',
    'version is replaced, the others kept), by `npm run bench:postgres` (the deadlock storm on the local',
    'PostgreSQL), by `npm run bench:admission` (deadlock-aware admission in the storm), by `npm run bench:overload`',
    '(the adaptive concurrency limit under overload), by `npm run bench:failover` (a writer failover behind an',
    'endpoint, on servers of its own) and by `npm run bench:fast-paths -- <node 22 binary> <node 24 binary>` (the',
    "breaker's fast paths on this Node and on each binary given, one after the other), each its own section. Every",
    'figure sits beside a baseline measured in the same run.',
    '',
    ...[...sections.values()].sort((a, b) => a.order - b.order).map(({ text }) => text.trimEnd() + '\n'),
  ].join('\n');
  writeFileSync(file, document);
  console.log(`\nwrote docs/BENCHMARKS.md (${heading})`);
}
