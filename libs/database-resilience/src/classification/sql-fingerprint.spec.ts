import { fingerprintSql } from './sql-fingerprint';

describe('fingerprintSql', () => {
  it('replaces literals, folds white space and drops comments', () => {
    expect(fingerprintSql("SELECT *  FROM t\n WHERE a = 'x''y' AND b = 1.5e3 /* hint */ AND c = x'FF' -- tail")).toBe(
      'SELECT * FROM t WHERE a = ? AND b = ? AND c = ?',
    );
  });

  it('keeps identifiers with digits and backquoted names intact', () => {
    expect(fingerprintSql('UPDATE `t1 x` SET col2 = 7 WHERE id3 = 0x1F')).toBe(
      'UPDATE `t1 x` SET col2 = ? WHERE id3 = ?',
    );
  });

  it('collapses IN lists and multi-row VALUES so that one shape groups all sizes', () => {
    expect(fingerprintSql('SELECT 1 FROM t WHERE id IN (1, 2, 3)')).toBe(
      fingerprintSql('SELECT 1 FROM t WHERE id IN (9)'),
    );
    expect(fingerprintSql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')")).toBe('INSERT INTO t (a, b) VALUES (?+)');
  });

  it('handles escapes and unterminated strings without leaking them', () => {
    expect(fingerprintSql("SELECT 'it\\'s secret'")).toBe('SELECT ?');
    expect(fingerprintSql("SELECT 'never closed secret")).toBe('SELECT ?');
  });
});
