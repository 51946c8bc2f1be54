/** What a statement does to the transaction state and to data, read from its first keyword. */
export type StatementKind = 'begin' | 'commit' | 'rollback' | 'read' | 'write' | 'session';

const KINDS: Record<string, StatementKind> = {
  START: 'begin',
  BEGIN: 'begin',
  COMMIT: 'commit',
  ROLLBACK: 'rollback',
  SELECT: 'read',
  SHOW: 'read',
  DESCRIBE: 'read',
  DESC: 'read',
  EXPLAIN: 'read',
  HELP: 'read',
  SET: 'session',
  USE: 'session',
  SAVEPOINT: 'session',
  RELEASE: 'session',
  KILL: 'session',
  DO: 'session',
};

/** Any statement not known to be harmless counts as a write: a lost write's outcome is unknown. */
export function statementKind(sql: string): StatementKind {
  let i = 0;
  const n = sql.length;
  for (;;) {
    while (i < n && sql.charCodeAt(i) <= 32) i++;
    if (sql.startsWith('/*', i) && !sql.startsWith('/*!', i)) {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) return 'write';
      i = end + 2;
    } else if (sql.startsWith('--', i) || sql[i] === '#') {
      const end = sql.indexOf('\n', i);
      if (end === -1) return 'write';
      i = end + 1;
    } else break;
  }
  let end = i;
  for (let c = sql.charCodeAt(end); (c >= 65 && c <= 90) || (c >= 97 && c <= 122); c = sql.charCodeAt(++end));
  const keyword = sql.slice(i, end).toUpperCase();
  const kind = KINDS[keyword] ?? 'write';
  if (kind === 'rollback' && /^\s+TO\b/i.test(sql.slice(end))) return 'session'; // ROLLBACK TO SAVEPOINT
  return kind;
}
