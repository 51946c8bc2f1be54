import type { ClassifiedError } from '../classification/classified-error';
import { fingerprintSql } from '../classification/sql-fingerprint';

/** The table a write statement names first (INSERT INTO t, UPDATE t, DELETE FROM t, REPLACE INTO t). */
const WRITTEN_TABLE =
  /^\s*(?:INSERT\s+(?:IGNORE\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+IGNORE)?|DELETE\s+FROM)\s+([`"\w.$]+)/i;

/**
 * A deadlock error met at COMMIT, read as what it is on a synchronous cluster (Galera): a certification conflict.
 * InnoDB takes no locks at COMMIT, so it reports no deadlock there; a cluster whose write-set lost against another
 * node's does. The rollback is definite (nothing was written): the unit is re-run whole, as after a deadlock.
 */
export function certificationConflict(
  seen: ClassifiedError,
  commit: string,
  writes: readonly string[],
  node?: string,
): ClassifiedError {
  const statements = [...new Set(writes.map(fingerprintSql))];
  const tables = [
    ...new Set(statements.map((sql) => WRITTEN_TABLE.exec(sql)?.[1]?.replace(/[`"]/g, '')).filter(Boolean)),
  ] as string[];
  return {
    ...seen,
    sql: seen.sql ?? fingerprintSql(commit),
    name: 'CERTIFICATION_CONFLICT',
    message:
      'Certification conflict: another node committed a conflicting write first; the transaction was rolled back',
    conflict: { ...(node && { node }), statements, tables },
  };
}
