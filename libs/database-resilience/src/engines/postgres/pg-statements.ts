import { requestContext } from '../../context/request-context';
import { unitOfWork } from '../../context/unit-of-work';
import { TransactionRolledBackError } from '../../errors/transaction-rolled-back.error';
import type { ConnectionState } from '../guard/connection-state';
import type { StatementRunner } from '../guard/driver-adapter';
import { serverLimitOf } from '../guard/server-limit';
import { statementOf } from '../statement-kind';
import type { PgClient, PgResult } from './pg-client';

const TRANSACTION_ID = 'SELECT pg_current_xact_id_if_assigned()::text AS xid';

/**
 * What PostgreSQL needs around the core's statement path (TypeORM's promise-style `client.query(sql, params)`):
 * - BEGIN under a deadline carries `SET LOCAL statement_timeout` (same message: no round trip), lowered later only
 *   once earlier statements used up a tenth of it, so that the server's own 57014 comes before the client gives up;
 * - the transaction's id is read before COMMIT, so that a COMMIT lost with its connection can be settled;
 * - a COMMIT the server answers `ROLLBACK` (the transaction had failed and the error was swallowed) fails.
 */
export async function guardedPgQuery(
  runner: StatementRunner<PgClient>,
  client: PgClient,
  state: ConnectionState,
  sql: string,
  parameters: unknown,
): Promise<unknown> {
  const send = (text: string, values?: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const callback = (error: unknown, result?: unknown) => (error ? reject(error) : resolve(result));
      runner.run(client, state, text, values === undefined ? [text, callback] : [text, values, callback]);
    });
  const { kind, data } = statementOf(sql);
  const deadline = unitOfWork.getStore()?.deadline ?? requestContext.getStore()?.deadline;
  if (kind === 'commit' && state.inTransaction && state.wrote && !state.firstFailure && state.role === 'primary') {
    const found = (await send(TRANSACTION_ID)) as PgResult;
    state.transactionId = (found.rows?.[0]?.xid as string | null | undefined) ?? null;
  }
  if (kind === 'begin' && deadline !== undefined && parameters === undefined) {
    const limitMs = serverLimitOf(deadline.at - Date.now());
    // BEGIN with SET LOCAL answers twice: TypeORM gets BEGIN's answer.
    const answers = await send(`${sql}; SET LOCAL statement_timeout = ${limitMs}`);
    state.serverLimitMs = limitMs;
    return Array.isArray(answers) ? answers[0] : answers;
  }
  if (data && deadline !== undefined && state.inTransaction && !state.firstFailure) {
    const wanted = serverLimitOf(deadline.at - Date.now());
    if (state.serverLimitMs !== undefined && state.serverLimitMs - wanted > Math.max(20, wanted / 10)) {
      await send(`SET LOCAL statement_timeout = ${wanted}`);
      state.serverLimitMs = wanted;
    }
  }
  const result = (await send(sql, parameters)) as PgResult | undefined;
  if (kind === 'commit' && result?.command === 'ROLLBACK') {
    // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK and no error: nothing was written.
    const error = new TransactionRolledBackError(runner.database, state.firstFailure);
    runner.failed(error);
    throw error;
  }
  return result;
}
