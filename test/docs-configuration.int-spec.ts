import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveOptions } from '../libs/database-resilience/src/options/options.schema';

/** docs/CONFIGURATION.md stays true to the code: every default in its table is the one the schema fills in. */
describe('docs/CONFIGURATION.md', () => {
  const doc = readFileSync(join(__dirname, '..', 'docs', 'CONFIGURATION.md'), 'utf8');
  const optionsTable = doc.slice(doc.indexOf('| option | default |')).split('\n\n')[0];
  const rows = [...optionsTable.matchAll(/^\| `([a-zA-Z.]+)` \| ([^|]+) \|/gm)].map(
    (m) => [m[1], m[2].trim()] as const,
  );
  const parseLiteral = (literal: string): unknown => {
    try {
      return JSON.parse(literal.replace(/'/g, '"').replace(/([{,]\s*)(\w+):/g, '$1"$2":'));
    } catch {
      return literal;
    }
  };
  // Required settings given (e-mail has some), so that the defaults nested under them are filled in too.
  const defaults = resolveOptions({
    alerts: { email: { smtpUrl: 'smtp://mail', from: 'a@example.com', to: ['b@example.com'] } },
  }) as unknown as Record<string, unknown>;
  const valueAt = (path: string) =>
    path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)?.[k], defaults);

  it('documents every option the schema has', () => {
    const documented = new Set(rows.map(([name]) => name));
    const leaves = (value: unknown, prefix: string): string[] =>
      typeof value === 'object' && value !== null && !Array.isArray(value) && !documented.has(prefix)
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k))
        : [prefix];
    expect(leaves(defaults, '').filter((name) => !documented.has(name))).toEqual([]);
  });

  it.each(rows.filter(([, documented]) => !documented.startsWith('none')))('%s defaults to %s', (name, documented) => {
    const literal = documented.replace(/^`|`$/g, '');
    expect(valueAt(name)).toEqual(parseLiteral(literal));
  });
});

/** The docs say what the code does now: no promises, no issue numbers, no "not yet" about things that exist. */
describe('docs speak of what is built', () => {
  const files = [
    'README.md',
    ...['ARCHITECTURE', 'CONFIGURATION', 'OPERATIONS', 'API', 'BENCHMARKS', 'USAGE'].map((n) => `docs/${n}.md`),
  ];

  it.each(files)('%s has no "will", no issue number, no "not yet"', (file) => {
    const text = readFileSync(join(__dirname, '..', file), 'utf8');
    const stale = text
      .split('\n')
      .filter((line) => /\bwill\b|\bissue #?\d+|(?<![\w`-])#\d+\b|\bnot (checked |built |done )?yet\b/i.test(line));
    expect(stale).toEqual([]);
  });
});

/** One source for figures: every measured figure README and the docs quote is in docs/BENCHMARKS.md as written. */
describe('figures come from docs/BENCHMARKS.md', () => {
  const read = (file: string) => readFileSync(join(__dirname, '..', file), 'utf8').replace(/\s+/g, ' ');
  const benchmarks = read('docs/BENCHMARKS.md');

  const files = ['README.md', 'docs/USAGE.md', 'docs/ARCHITECTURE.md', 'docs/CONFIGURATION.md', 'docs/OPERATIONS.md'];
  it.each(files)('%s', (file) => {
    const text = read(file);
    const missing: string[] = [];
    // Times (`+1.66 µs`, `282 µs`), signed percentages (`+12.1 %`), ratios to a baseline (`1.02×`).
    for (const [token] of text.matchAll(/[+-]?\d[\d.]*\s?(?:µs|ns)\b|[+-]\d[\d.]*\s?%/g)) {
      if (!benchmarks.includes(token)) missing.push(token);
    }
    for (const [, ratio] of text.matchAll(/(\d+\.\d+)×/g)) {
      if (!benchmarks.includes(`| ${ratio} |`)) missing.push(`${ratio}×`);
    }
    expect(missing).toEqual([]);
  });
});
