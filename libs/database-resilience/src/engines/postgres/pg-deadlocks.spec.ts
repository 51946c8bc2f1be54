import { PgDeadlocks } from './pg-deadlocks';

/** A 40P01 as node-postgres gives it (postgres-facts §1.2, §9). */
const deadlock = Object.assign(new Error('deadlock detected'), {
  code: '40P01',
  detail:
    'Process 6736 waits for ShareLock on transaction 745; blocked by process 6737.\n' +
    'Process 6737 waits for ShareLock on transaction 744; blocked by process 6736.',
  where: 'while updating tuple (0,2) in relation "accounts"',
});

describe('PgDeadlocks (the account of a PostgreSQL deadlock)', () => {
  it('puts the account together from the error and the other session, without values', async () => {
    const asked: unknown[][] = [];
    const deadlocks = new PgDeadlocks(async (sql, parameters) => {
      asked.push(parameters);
      if (sql.includes('pg_stat_activity')) {
        return [
          {
            pid: 6737,
            query: "UPDATE accounts SET balance = 5 WHERE owner = 'ann'",
            state: 'active',
            xid: '745',
            tables: ['accounts', 'audit'],
          },
        ];
      }
      return [{ name: 'accounts' }];
    }, 10_000);
    deadlocks.capture(deadlock, 'UPDATE accounts SET balance = balance + $1 WHERE id = $2', 6736);
    const account = await deadlocks.latestDeadlock();
    expect(asked[0]).toEqual([[6737]]); // only the other session is asked about
    expect(account?.victim).toBe(1);
    expect(account?.transactions).toEqual([
      expect.objectContaining({
        number: 1,
        sessionId: 6736,
        victim: true,
        statement: 'UPDATE accounts SET balance = balance + $1 WHERE id = $2',
        tables: ['accounts'],
        waitsFor: [expect.objectContaining({ mode: 'ShareLock', kind: 'record', table: 'accounts', trxId: '745' })],
      }),
      expect.objectContaining({
        number: 2,
        sessionId: 6737,
        trxId: '745',
        victim: false,
        tables: ['accounts', 'audit'],
      }),
    ]);
    expect(JSON.stringify(account)).not.toContain('ann'); // the other session's literal is fingerprinted away
  });

  it('asks the server at most once per interval, and never throws on an error it cannot read', async () => {
    let queries = 0;
    const deadlocks = new PgDeadlocks(async () => {
      queries++;
      throw new Error('server gone');
    }, 10_000);
    deadlocks.capture(deadlock, 'UPDATE x SET y = 1', 6736);
    deadlocks.capture(deadlock, 'UPDATE x SET y = 1', 6736);
    await expect(deadlocks.latestDeadlock()).resolves.toBeUndefined();
    expect(queries).toBe(1);
    const hostile = new PgDeadlocks(async () => [], 0);
    hostile.capture(Object.create(null), 'x', undefined);
    hostile.capture(
      {
        get detail() {
          throw new Error('trap');
        },
      },
      'x',
      undefined,
    );
    await expect(hostile.latestDeadlock()).resolves.toBeUndefined();
  });
});
