import { Client } from 'pg';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

/**
 * A real PostgreSQL deadlock on two rows of `table` (ids 1 and 2, a numeric column `balance`): rejects with the
 * victim's error (40P01). The victim lowers its own deadlock_timeout so that it is the one that detects it.
 */
export async function provokePostgresDeadlock(table: string): Promise<never> {
  const victim = new Client({ ...PG, options: '-c deadlock_timeout=50ms' });
  const other = new Client({ ...PG, options: '-c deadlock_timeout=10s' });
  for (const c of [victim, other]) {
    c.on('error', () => undefined);
    await c.connect();
  }
  try {
    await victim.query('BEGIN');
    await other.query('BEGIN');
    await victim.query(`UPDATE ${table} SET balance = balance WHERE id = 1`);
    await other.query(`UPDATE ${table} SET balance = balance WHERE id = 2`);
    const waiting = other.query(`UPDATE ${table} SET balance = balance WHERE id = 1`);
    try {
      await victim.query(`UPDATE ${table} SET balance = balance WHERE id = 2`);
    } finally {
      await victim.query('ROLLBACK');
      await waiting;
      await other.query('ROLLBACK');
    }
    throw new Error('expected a deadlock');
  } finally {
    await victim.end();
    await other.end();
  }
}
