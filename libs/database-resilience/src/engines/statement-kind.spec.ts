import { statementOf } from './statement-kind';

describe('statementOf: kind', () => {
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
    expect(statementOf(sql).kind).toBe(kind);
  });
});

describe('statementOf', () => {
  it.each([
    ['SELECT 1', true],
    ['with t as (select 1) select * from t', true],
    ['insert into t values (1)', true],
    ['UPDATE t SET a = 1', true],
    ['DELETE FROM t', true],
    ['REPLACE INTO t VALUES (1)', true],
    ['ALTER TABLE t ADD c INT', false],
    ['SHOW TABLES', false],
    ['SET SESSION x=1', false],
    ['START TRANSACTION', true],
    ['COMMIT', true],
    ['ROLLBACK', true],
    ['ROLLBACK TO SAVEPOINT typeorm_1', false],
  ])('%j reads or changes rows: %s', (sql, data) => {
    expect(statementOf(sql).data).toBe(data);
  });
});
