import { housekeeping } from '../../context/unit-of-work';
import { withTimeout } from '../../context/with-timeout';
import type { Mysql2Connection } from './mysql2-connection';
import type { StatementKind } from '../statement-kind';

/**
 * The server is told to stop a statement this much before the caller's deadline (at most a quarter of the time
 * left), so that its own clean error usually comes first; the client stops waiting at the deadline itself.
 */
const SERVER_MARGIN_MS = 250;

/**
 * A data statement with a server-side limit a little before the deadline: MariaDB's `SET STATEMENT
 * max_statement_time ... FOR`, MySQL's `MAX_EXECUTION_TIME` hint for SELECTs. MySQL writes go out unchanged: the
 * client timer and KILL QUERY stop them.
 */
export function withServerDeadline(connection: Mysql2Connection, sql: string, kind: StatementKind, leftMs: number) {
  const remainingMs = Math.max(1, leftMs - Math.min(SERVER_MARGIN_MS, leftMs / 4));
  if (connection._isMariaDB) return `SET STATEMENT max_statement_time=${(remainingMs / 1000).toFixed(3)} FOR ${sql}`;
  if (kind === 'read' && /^\s*SELECT\b/i.test(sql)) {
    return sql.replace(/^\s*SELECT\b/i, `SELECT /*+ MAX_EXECUTION_TIME(${Math.ceil(remainingMs)}) */`);
  }
  return sql;
}

/**
 * Stops a statement the client gave up on, by thread id, from another connection: the module's housekeeping
 * (outside any unit of work and request, never recorded as the caller's error), bounded by `boundMs` for the
 * borrow and again for the KILL. A KILL that gets no answer leaves its connection destroyed, not pooled. A
 * statement that had already ended (1094 "Unknown thread id") is the usual, harmless outcome.
 */
export class StatementKiller {
  constructor(
    private readonly obtain: () => Promise<Mysql2Connection>,
    /** mysql2's own query() of a connection, past the guard. */
    private readonly rawQueryOf: (connection: Mysql2Connection) => Mysql2Connection['query'],
    private readonly boundMs: number,
  ) {}

  kill(threadId: number | null): Promise<void> {
    if (threadId === null) return Promise.resolve();
    return housekeeping(async () => {
      let connection: Mysql2Connection | undefined;
      try {
        connection = await withTimeout(this.obtain(), this.boundMs, (late) => late.release());
        if (connection === undefined) return; // no connection in time: the deadline's own error stands
        const query = this.rawQueryOf(connection);
        const answered = await withTimeout(
          new Promise<boolean>((resolve) =>
            query.call(connection, `KILL QUERY ${Number(threadId)}`, () => resolve(true)),
          ),
          this.boundMs,
        );
        if (answered) connection.release();
        else connection.destroy(); // the server does not answer: this connection is as stuck as the other
      } catch {
        connection?.destroy();
      }
    });
  }
}
