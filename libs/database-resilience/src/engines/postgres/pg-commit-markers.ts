import type { QueryRunner } from 'typeorm';
import type { LostCommit } from '../../errors/database-error-marks';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../../options/idempotency-key';
import type { CommitMarkers } from '../database-engine';
import { onceUntilFailure } from '../once-until-failure';
import type { Housekeeping } from '../guard/housekeeping';
import type { PgClient, PgPool } from './pg-client';

/**
 * Settles ambiguous commits on PostgreSQL. The guard reads the transaction's id before COMMIT, so a lost COMMIT
 * is settled without any key by `pg_xact_status(xid)`: committed, aborted, or still in progress (then its
 * session is terminated and the question asked again). With an idempotency key a marker row is written inside the
 * transaction too, and looked up once the old session is gone (when the id is unknown or too old to tell). All of
 * it on the session's own server: another has its own transaction ids and pids. No connection reaching that server:
 * the outcome stays unknown.
 */
export class PgCommitMarkers implements CommitMarkers {
  constructor(
    private readonly housekeeping: Housekeeping<PgClient, PgPool>,
    private readonly table: string,
    private readonly settleTimeoutMs: number,
  ) {}

  /** Makes the marker table once (and again after a failure). */
  readonly ensureTable = onceUntilFailure(() =>
    this.housekeeping.query(
      `CREATE TABLE IF NOT EXISTS "${this.table}" (idempotency_key VARCHAR(${MAX_IDEMPOTENCY_KEY_LENGTH}) ` +
        'NOT NULL PRIMARY KEY, created_at TIMESTAMPTZ(3) NOT NULL DEFAULT now())',
      undefined,
      { boundMs: this.settleTimeoutMs },
    ),
  );

  async write(queryRunner: QueryRunner, key: string): Promise<void> {
    await queryRunner.query(`INSERT INTO "${this.table}" (idempotency_key) VALUES ($1)`, [key]);
  }

  canSettle(lost: LostCommit, key: string | undefined): boolean {
    return lost.transactionId !== undefined || key !== undefined;
  }

  async settle(
    { sessionId, transactionId, server }: LostCommit,
    key: string | undefined,
  ): Promise<boolean | undefined> {
    if (server === undefined) return undefined;
    const deadline = Date.now() + this.settleTimeoutMs;
    return this.housekeeping.onServer(
      server,
      async (there) => {
        let terminated = false;
        for (let id = transactionId; ;) {
          if (id !== undefined) {
            const [row] = await there('SELECT pg_xact_status($1::xid8) AS status', [id]);
            if (row?.status === 'committed') return true;
            if (row?.status === 'aborted') return false;
            if (row?.status !== 'in progress') id = undefined; // too old to tell: the key, if any
          }
          if (id === undefined) {
            if (key === undefined) return undefined;
            const [session] =
              sessionId === undefined ? [] : await there('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [sessionId]);
            if (session === undefined) {
              const rows = await there(`SELECT 1 FROM "${this.table}" WHERE idempotency_key = $1`, [key]);
              return rows.length > 0;
            }
          }
          // Still committing, or holding its locks: end it, then ask again.
          if (!terminated && sessionId !== undefined) await there('SELECT pg_terminate_backend($1)', [sessionId]);
          terminated = true;
          if (Date.now() > deadline) return undefined;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      this.settleTimeoutMs,
    );
  }
}
