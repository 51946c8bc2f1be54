import type { StatementKind } from '../events/resilience-event';

export type { StatementKind };

/**
 * A statement's kind, and whether it reads or changes rows or ends a transaction that did (the ones
 * `queries.timeoutMs` bounds; DDL does not).
 */
export interface Statement {
  readonly kind: StatementKind;
  readonly data: boolean;
}

const statement = (kind: StatementKind, data = false): Statement => Object.freeze({ kind, data });

/** Any statement not known to be harmless counts as a write: a lost write's outcome is unknown. */
const OTHER: Statement = statement('write');
const SESSION = statement('session');
const READ = statement('read');

/** One object per keyword, made once: reading a statement allocates nothing but its keyword. */
const KEYWORDS = new Map<string, Statement>([
  ['START', statement('begin', true)],
  ['BEGIN', statement('begin', true)],
  ['COMMIT', statement('commit', true)],
  ['ROLLBACK', statement('rollback', true)],
  ['SELECT', statement('read', true)],
  ['SHOW', READ],
  ['DESCRIBE', READ],
  ['DESC', READ],
  ['EXPLAIN', READ],
  ['HELP', READ],
  ['INSERT', statement('write', true)],
  ['UPDATE', statement('write', true)],
  ['DELETE', statement('write', true)],
  ['REPLACE', statement('write', true)],
  ['WITH', statement('write', true)],
  ['SET', SESSION],
  ['USE', SESSION],
  ['SAVEPOINT', SESSION],
  ['RELEASE', SESSION],
  ['KILL', SESSION],
  ['DO', SESSION],
]);

/** Reads a statement's first keyword, past leading blanks and comments (not `/*!` ones, which MySQL runs). */
export function statementOf(sql: string): Statement {
  let i = 0;
  const n = sql.length;
  for (;;) {
    while (i < n && sql.charCodeAt(i) <= 32) i++;
    if (sql.startsWith('/*', i) && !sql.startsWith('/*!', i)) {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) return OTHER;
      i = end + 2;
    } else if (sql.startsWith('--', i) || sql[i] === '#') {
      const end = sql.indexOf('\n', i);
      if (end === -1) return OTHER;
      i = end + 1;
    } else break;
  }
  let end = i;
  for (let c = sql.charCodeAt(end); (c >= 65 && c <= 90) || (c >= 97 && c <= 122); c = sql.charCodeAt(++end));
  const keyword = sql.slice(i, end);
  const found = KEYWORDS.get(keyword) ?? KEYWORDS.get(keyword.toUpperCase()) ?? OTHER;
  if (found.kind === 'rollback' && /^\s+TO\b/i.test(sql.slice(end))) return SESSION; // ROLLBACK TO SAVEPOINT
  return found;
}
