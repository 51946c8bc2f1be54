import type { z } from 'zod';

/** One line for one bad option: its path (under `prefix`), what it accepts, and what it got if that is safe. */
export function describeIssue(
  issue: z.core.$ZodIssue,
  options: unknown,
  schema: unknown,
  prefix: readonly PropertyKey[] = [],
): string {
  const path = [...prefix, ...issue.path].join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, [...prefix, ...issue.path]).join(', ');
    return issue.keys.map((key) => `unknown option \`${path ? `${path}.` : ''}${key}\` (known: ${known})`).join('; ');
  }
  return `\`${path || 'options'}\` ${issue.message}${received(valueAt(options, issue.path))}`;
}

/** Echo numbers and booleans, never strings: a string option may hold a password (smtpUrl). */
function received(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return ` (got ${String(value)})`;
  if (value === null) return ' (got null)';
  return value === undefined || typeof value === 'string'
    ? ''
    : ` (got ${Array.isArray(value) ? 'array' : typeof value})`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

/** The option names an object in the schema accepts, for "unknown option" messages. */
function knownKeys(root: unknown, path: readonly PropertyKey[]): string[] {
  let schema = root;
  for (const key of path) schema = unwrap(schema)?.shape?.[key as string];
  return Object.keys(unwrap(schema)?.shape ?? {});
}

function unwrap(schema: unknown): { shape?: Record<string, unknown> } | undefined {
  let current = schema as { shape?: Record<string, unknown>; def?: { innerType?: unknown } } | undefined;
  while (current && !current.shape && current.def?.innerType) current = current.def.innerType as typeof current;
  return current;
}
