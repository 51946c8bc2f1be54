import type { ResilienceService } from 'nestjs-database-resilience';

/** A connection that runs statements: mysql2's own or the CLI's RawSession. */
interface Side {
  query(sql: string): Promise<unknown>;
}

/**
 * One real InnoDB deadlock, with the unit of work as its victim, re-run by `resilience.transaction()`: the unit
 * locks row 1; `side` (another connection) holds rows 2+ of `table` and asks for row 1; the unit asks for row 2
 * and closes the cycle. `side` changed more rows, so InnoDB rolls the unit back; its second attempt waits for
 * `side` to commit. `table` needs rows with ids 1 and 2 and an integer column `balance`.
 * Resolves with the number of attempts the unit took (2).
 */
export async function deadlockOnce(resilience: ResilienceService, side: Side, table: string): Promise<number> {
  let attempts = 0;
  let sideBlocked: Promise<unknown> | undefined;
  await resilience.transaction(async (manager) => {
    attempts++;
    if (attempts === 2) {
      // The victim rolled back: the other transaction got row 1 and finishes.
      await sideBlocked;
      await side.query('COMMIT');
    }
    await manager.query(`SELECT balance FROM ${table} WHERE id = 1 FOR UPDATE`);
    if (attempts === 1) {
      await side.query('START TRANSACTION');
      await side.query(`UPDATE ${table} SET balance = balance + 1 WHERE id >= 2`);
      sideBlocked = side.query(`SELECT balance FROM ${table} WHERE id = 1 FOR UPDATE`);
      await new Promise((resolve) => setTimeout(resolve, 200)); // let it queue behind our lock
      await manager.query(`SELECT balance FROM ${table} WHERE id = 2 FOR UPDATE`); // closes the cycle
    }
  });
  return attempts;
}
