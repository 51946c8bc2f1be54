import type { DataSource, EntityManager } from 'typeorm';
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error';
import type { ResilienceEvents } from '../events/resilience-events';
import { outcomeUnknownOf } from '../errors/database-error-marks';
import { CommitNotAppliedError } from './commit-not-applied.error';
import type { CommitMarkers } from '../engines/database-engine';
import type { TransactionOptions } from './retry-options';
import { requestContext } from '../context/request-context';
import { unitOfWork } from '../context/unit-of-work';
import { withTimeout } from '../context/with-timeout';

/**
 * One attempt of a transaction: a fresh connection, START TRANSACTION, the marker row if there is a key, the
 * callback, COMMIT; on failure ROLLBACK (a dead connection is destroyed, not pooled). When COMMIT's outcome is
 * unknown and there is a key, settles it: committed gives the callback's result, not applied asks for a re-run.
 */
export async function runTransactionAttempt<T>(
  dataSource: DataSource,
  database: string,
  callback: (manager: EntityManager) => Promise<T>,
  options: Pick<TransactionOptions, 'idempotencyKey' | 'isolationLevel' | 'operation'>,
  markers: CommitMarkers | undefined,
  events: ResilienceEvents,
): Promise<T> {
  const { idempotencyKey: key, operation } = options;
  if (key && markers) await markers.ensureTable();
  const queryRunner = dataSource.createQueryRunner('master');
  let callbackDone = false;
  let result!: T;
  try {
    await queryRunner.startTransaction(options.isolationLevel);
    if (key && markers) await markers.write(queryRunner, key);
    const unit = unitOfWork.getStore();
    result = await (unit
      ? unitOfWork.run({ ...unit, manager: queryRunner.manager }, () => callback(queryRunner.manager))
      : callback(queryRunner.manager));
    callbackDone = true;
    await queryRunner.commitTransaction();
    return result;
  } catch (error) {
    const unknown = callbackDone ? outcomeUnknownOf(error) : undefined;
    if (unknown && markers?.canSettle(unknown, key)) {
      // Settled within the caller's deadline, or reported unknown (with the key): a hung server must not hold
      // the caller past it while the marker is looked up.
      const deadline = unitOfWork.getStore()?.deadline ?? requestContext.getStore()?.deadline;
      const settling = markers.settle(unknown, key).catch(() => undefined);
      const committed = deadline ? await withTimeout(settling, Math.max(0, deadline.at - Date.now())) : await settling;
      if (committed !== undefined) {
        events.emit({ type: 'commit-settled', at: Date.now(), database, operation, committed });
        if (committed) return result;
        throw new CommitNotAppliedError(error);
      }
      throw new CommitOutcomeUnknownError({
        database,
        operation,
        sessionId: unknown.sessionId,
        idempotencyKey: key,
        cause: error,
      });
    }
    if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await queryRunner.release().catch(() => undefined);
  }
}
