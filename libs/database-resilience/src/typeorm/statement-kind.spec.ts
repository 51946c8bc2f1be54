import { statementKind } from './statement-kind';

describe('statementKind', () => {
  it.each([
    ['START TRANSACTION', 'begin'],
    ['  commit', 'commit'],
    ['ROLLBACK', 'rollback'],
    ['ROLLBACK TO SAVEPOINT typeorm_1', 'session'],
    ['SELECT 1', 'read'],
    ['/* comment */ select * from t', 'read'],
    ['-- note\nSELECT 1', 'read'],
    ['SET SESSION x=1', 'session'],
    ['INSERT INTO t VALUES (1)', 'write'],
    ['update t set a=1', 'write'],
    ['CALL proc()', 'write'],
    ['', 'write'],
    ['/* never closed', 'write'],
  ])('%j is %s', (sql, kind) => {
    expect(statementKind(sql)).toBe(kind);
  });
});
