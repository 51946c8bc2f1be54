import type { QueryRunner } from 'typeorm';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../../options/idempotency-key';
import type { CommitMarkers } from '../database-engine';
import { onceUntilFailure } from '../once-until-failure';
import type { Housekeeping } from '../guard/housekeeping';
import type { LostCommit } from '../../errors/database-error-marks';
import type { Mysql2Pool } from './mysql-adapter';
import type { Mysql2Connection } from './mysql2-connection';

/**
 * Settles ambiguous commits (facts file §6): a marker row with the unit's idempotency key is written inside the
 * transaction; when the connection fails after COMMIT was sent, the old session is killed and waited out, then
 * the marker tells whether the transaction committed. All of it on the session's own server: on another (behind a
 * balancing endpoint, a multi-primary cluster) its thread id is somebody else's session, and a write it committed
 * may not be applied there yet. No connection reaching that server: the outcome stays unknown.
 */
export class IdempotencyMarkers implements CommitMarkers {
  constructor(
    private readonly housekeeping: Housekeeping<Mysql2Connection, Mysql2Pool>,
    private readonly table: string,
    private readonly settleTimeoutMs: number,
  ) {}

  /** Creates the marker table once. DDL commits implicitly, so this runs before the transaction opens. */
  readonly ensureTable = onceUntilFailure(() =>
    this.housekeeping.query(
      `CREATE TABLE IF NOT EXISTS \`${this.table}\` (idempotency_key VARCHAR(${MAX_IDEMPOTENCY_KEY_LENGTH}) NOT NULL PRIMARY KEY, ` +
        'created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB',
      undefined,
      { boundMs: this.settleTimeoutMs },
    ),
  );

  /** Inside the transaction: commits with it, or not at all. A key used before fails with a duplicate key. */
  async write(queryRunner: QueryRunner, key: string): Promise<void> {
    await queryRunner.query(`INSERT INTO \`${this.table}\` (idempotency_key) VALUES (?)`, [key]);
  }

  canSettle(_lost: LostCommit, key: string | undefined): boolean {
    return key !== undefined;
  }

  /**
   * Whether the transaction that wrote `key` committed. Kills the old session first (it may still be
   * committing, or holding locks) and waits until it is gone; undefined if that does not happen in time.
   */
  async settle({ sessionId, server }: LostCommit, key: string | undefined): Promise<boolean | undefined> {
    if (key === undefined || server === undefined) return undefined;
    const deadline = Date.now() + this.settleTimeoutMs;
    return this.housekeeping.onServer(
      server,
      async (there) => {
        if (sessionId !== undefined) {
          await there(`KILL ${Number(sessionId)}`).catch(() => undefined); // 1094: already gone
          for (;;) {
            const [row] = await there('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [
              sessionId,
            ]);
            if (Number(row.n) === 0) break;
            if (Date.now() > deadline) return undefined;
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
        const rows = await there(`SELECT 1 FROM \`${this.table}\` WHERE idempotency_key = ?`, [key]);
        return rows.length > 0;
      },
      this.settleTimeoutMs,
    );
  }
}
