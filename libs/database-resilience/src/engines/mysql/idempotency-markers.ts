import type { DataSource, QueryRunner } from 'typeorm';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../../options/idempotency-key';
import type { CommitMarkers } from '../database-engine';
import { onceUntilFailure } from '../once-until-failure';
import { housekeeping } from '../../context/unit-of-work';
import type { LostCommit } from '../../errors/database-error-marks';

/**
 * Settles ambiguous commits (facts file §6): a marker row with the unit's idempotency key is written inside the
 * transaction; when the connection fails after COMMIT was sent, the old session is killed and waited out, then
 * the marker tells whether the transaction committed.
 */
export class IdempotencyMarkers implements CommitMarkers {
  constructor(
    private readonly dataSource: DataSource,
    private readonly table: string,
    private readonly settleTimeoutMs: number,
  ) {}

  /** Creates the marker table once. DDL commits implicitly, so this runs before the transaction opens. */
  readonly ensureTable = onceUntilFailure(() =>
    this.outside(() =>
      this.dataSource.query(
        `CREATE TABLE IF NOT EXISTS \`${this.table}\` (idempotency_key VARCHAR(${MAX_IDEMPOTENCY_KEY_LENGTH}) NOT NULL PRIMARY KEY, ` +
          'created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB',
      ),
    ),
  );

  /** Inside the transaction: commits with it, or not at all. A key used before fails with a duplicate key. */
  async write(queryRunner: QueryRunner, key: string): Promise<void> {
    await queryRunner.query(`INSERT INTO \`${this.table}\` (idempotency_key) VALUES (?)`, [key]);
  }

  /**
   * Whether the transaction that wrote `key` committed. Kills the old session first (it may still be
   * committing, or holding locks) and waits until it is gone; undefined if that does not happen in time.
   */
  canSettle(_lost: LostCommit, key: string | undefined): boolean {
    return key !== undefined;
  }

  settle({ sessionId }: LostCommit, key: string | undefined): Promise<boolean | undefined> {
    if (key === undefined) return Promise.resolve(undefined);
    return this.outside(async () => {
      const deadline = Date.now() + this.settleTimeoutMs;
      if (sessionId !== undefined) {
        await this.dataSource.query(`KILL ${Number(sessionId)}`).catch(() => undefined); // 1094: already gone
        for (;;) {
          const [row] = await this.dataSource.query(
            'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?',
            [sessionId],
          );
          if (Number(row.n) === 0) break;
          if (Date.now() > deadline) return undefined;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      const rows = await this.dataSource.query(`SELECT 1 FROM \`${this.table}\` WHERE idempotency_key = ?`, [key]);
      return rows.length > 0;
    });
  }

  /** Outside the caller's unit of work and request: no deadline, no nesting, not the caller's errors. */
  private outside<T>(work: () => Promise<T>): Promise<T> {
    return housekeeping(work);
  }
}
