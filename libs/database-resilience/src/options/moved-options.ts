import { ResilienceLogger } from '../events/resilience-logger';
import type { DatabaseResilienceOptions } from './database-resilience-options';
import type { ParsedOptions, ResolvedResilienceOptions } from './options.schema';
import { ResilienceOptionsError } from './resilience-options.error';

/** Options that moved: still read at their old place, with one start-up warning that names the new one. */
const MOVED = [
  { from: 'circuitBreaker.store', to: 'sharedState.store', why: 'it holds more than breaker states' },
  { from: 'deadlocks.innodbStatus', to: 'deadlocks.serverReport', why: 'PostgreSQL has no InnoDB' },
  {
    from: 'deadlocks.innodbStatusMinIntervalMs',
    to: 'deadlocks.serverReportMinIntervalMs',
    why: 'PostgreSQL has no InnoDB',
  },
] as const;

const said = new Set<string>();

/** The parsed options with each moved option at its new place; an option given at both places is an error. */
export function movedOptions(
  parsed: ParsedOptions,
  given: DatabaseResilienceOptions | undefined,
): ResolvedResilienceOptions {
  const resolved = copySections(parsed);
  const problems: string[] = [];
  for (const { from, to, why } of MOVED) {
    const value = take(resolved, from);
    if (value === undefined) continue;
    if (valueAt(given, to) !== undefined) {
      problems.push(`\`${from}\` and \`${to}\` are both given: \`${from}\` moved to \`${to}\`, give that one only`);
      continue;
    }
    put(resolved, to, value);
    if (said.has(from)) continue;
    said.add(from);
    new ResilienceLogger().warn(`\`${from}\` has moved to \`${to}\` (${why}); the old place still works`, {
      event: 'option-moved',
      option: from,
      to,
    });
  }
  if (problems.length > 0) throw new ResilienceOptionsError(problems);
  return resolved as ResolvedResilienceOptions;
}

type Tree = Record<string, unknown>;

/** A copy of the option objects (not of what they hold: stores, callbacks and rules stay the same objects). */
function copySections(parsed: ParsedOptions): Tree {
  return Object.fromEntries(
    Object.entries(parsed).map(([key, value]) => [
      key,
      value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...value } : value,
    ]),
  );
}

function valueAt(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value as Tree | undefined)?.[key], root);
}

function take(root: Tree, path: string): unknown {
  const [section, key] = path.split('.');
  const holder = root[section] as Tree;
  const value = holder[key];
  delete holder[key];
  return value;
}

function put(root: Tree, path: string, value: unknown): void {
  const [section, key] = path.split('.');
  (root[section] as Tree)[key] = value;
}
