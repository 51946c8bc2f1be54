import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLatestDeadlock } from './innodb-deadlock-parser';

const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

describe('parseLatestDeadlock', () => {
  it("parses MySQL 8's format (written from its documented format): holds, waits, victim, statements without values", () => {
    const deadlock = parseLatestDeadlock(fixture('mysql-8-deadlock.txt'))!;
    expect(deadlock.at).toBe('2026-03-02 14:07:19');
    expect(deadlock.victim).toBe(2);
    const [first, second] = deadlock.transactions;
    expect(first).toMatchObject({ number: 1, trxId: '48213', activeSeconds: 3, sessionId: 41, victim: false });
    expect(first.statement).toBe('UPDATE account SET balance=balance+? WHERE id=?');
    expect(first.holds).toEqual([
      expect.objectContaining({ table: 'shop.account', index: 'PRIMARY', mode: 'X', recordOnly: true, waiting: false }),
    ]);
    expect(first.waitsFor).toEqual([expect.objectContaining({ table: 'shop.account', mode: 'X', waiting: true })]);
    expect(second).toMatchObject({ number: 2, sessionId: 42, victim: true, tables: ['shop.ledger', 'shop.account'] });
    expect(second.statement).toBe('INSERT INTO ledger (account_id, amount) VALUES (?+)');
    expect(second.holds[0]).toMatchObject({ kind: 'table', table: 'shop.ledger', mode: 'IX' });
    expect(second.waitsFor[0]).toMatchObject({ index: 'idx_account', gap: true, insertIntention: true, waiting: true });
    expect(JSON.stringify(deadlock)).not.toContain('4111');
  });

  it("parses MariaDB 10.11's format (captured from a real deadlock): conflicting locks count as the other's holds", () => {
    const deadlock = parseLatestDeadlock(fixture('mariadb-10.11-deadlock.txt'))!;
    expect(deadlock.victim).toBe(1);
    const [first, second] = deadlock.transactions;
    expect(first).toMatchObject({ number: 1, victim: true, sessionId: expect.any(Number) });
    expect(first.statement).toMatch(/^UPDATE dl_\w+ SET v=v\+\? WHERE id=\?$/);
    expect(first.waitsFor).toEqual([expect.objectContaining({ mode: 'X', recordOnly: true, waiting: true })]);
    expect(first.holds).toEqual([expect.objectContaining({ trxId: first.trxId, waiting: false })]);
    expect(second.holds).toEqual([expect.objectContaining({ trxId: second.trxId })]);
    expect(first.tables).toHaveLength(1);
    expect(JSON.stringify(deadlock)).not.toMatch(/hex|80000001/);
  });

  it('says nothing when there is no deadlock section', () => {
    expect(parseLatestDeadlock('=====\nINNODB MONITOR OUTPUT\n------------\nTRANSACTIONS\n')).toBeUndefined();
  });
});
