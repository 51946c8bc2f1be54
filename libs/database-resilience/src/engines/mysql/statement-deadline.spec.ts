import { fakeConnection } from './fake-connection.spec-support';
import { StatementKiller, withServerDeadline } from './statement-deadline';

describe('withServerDeadline', () => {
  it('MariaDB: SET STATEMENT max_statement_time a little before the deadline', () => {
    const mariadb = fakeConnection(undefined, { _isMariaDB: true });
    expect(withServerDeadline(mariadb, 'UPDATE t SET a = 1', 'write', 2000)).toBe(
      'SET STATEMENT max_statement_time=1.750 FOR UPDATE t SET a = 1',
    );
  });

  it('MySQL: the MAX_EXECUTION_TIME hint on a SELECT; a write goes out unchanged (KILL QUERY is what stops it)', () => {
    const mysql = fakeConnection(undefined, { _isMariaDB: false });
    expect(withServerDeadline(mysql, 'SELECT 1', 'read', 1000)).toBe('SELECT /*+ MAX_EXECUTION_TIME(750) */ 1');
    expect(withServerDeadline(mysql, 'UPDATE t SET a = 1', 'write', 1000)).toBe('UPDATE t SET a = 1');
  });
});

describe('StatementKiller', () => {
  it('sends KILL QUERY for the thread past the guard, and gives its connection back', async () => {
    const connection = fakeConnection(() => ({ rows: [] }));
    const raw = jest.fn(connection.query);
    await new StatementKiller(
      async () => connection,
      () => raw,
      200,
    ).kill(7);
    expect(raw).toHaveBeenCalledWith('KILL QUERY 7', expect.any(Function));
    expect(connection.calls.released).toBe(1);
  });

  it('a server that does not answer the KILL: bounded, and that connection destroyed, not pooled', async () => {
    const connection = fakeConnection(() => undefined); // never answers
    const started = Date.now();
    await new StatementKiller(
      async () => connection,
      (c) => c.query,
      50,
    ).kill(7);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(connection.calls.destroyed).toBe(1);
    expect(connection.calls.released).toBe(0);
  });

  it('no connection in time: gives up, and gives the late one back', async () => {
    const connection = fakeConnection();
    let hand: (c: typeof connection) => void = () => undefined;
    const late = new Promise<typeof connection>((resolve) => (hand = resolve));
    await new StatementKiller(
      () => late,
      (c) => c.query,
      20,
    ).kill(7);
    hand(connection);
    await new Promise((resolve) => setImmediate(resolve));
    expect(connection.calls.released).toBe(1);
    expect(connection.calls.queries).toEqual([]);
  });

  it('a statement without a thread id: nothing to kill', async () => {
    const obtain = jest.fn();
    await new StatementKiller(obtain, (c) => c.query, 20).kill(null);
    expect(obtain).not.toHaveBeenCalled();
  });
});
