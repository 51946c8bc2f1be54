import { fingerprintSql } from '../../classification/sql-fingerprint';
import type { DeadlockAccount, DeadlockLock, DeadlockTransaction } from '../deadlock-account';

type Rows = Array<Record<string, unknown>>;

/** `Process 6736 waits for ShareLock on transaction 745; blocked by process 6737.` (the error's `detail`) */
const PROCESS_LINE = /Process (\d+) waits for (\w+) on ([^;]+); blocked by process (\d+)\./g;
/** `while updating tuple (0,2) in relation "accounts"` (the error's `where`): a table, or an index of one. */
const WHERE_RELATION = /in relation "([^"]+)"/;

/** The other sessions of the cycle, while they are still open: their statement and the tables they lock. */
const SESSIONS =
  'SELECT a.pid, a.query, a.state, a.backend_xid::text AS xid, ' +
  // The session's tables, not the system catalogs a later statement of it may lock (pg_database...).
  "COALESCE(array_agg(DISTINCT c.relname::text) FILTER (WHERE c.relkind IN ('r', 'p') " +
  "AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)), '{}') AS tables " +
  'FROM pg_stat_activity a LEFT JOIN pg_locks l ON l.pid = a.pid AND l.granted ' +
  'LEFT JOIN pg_class c ON c.oid = l.relation WHERE a.pid = ANY($1::int[]) GROUP BY a.pid, a.query, a.state, a.backend_xid::text';
/** The table a relation name stands for (an index names its table). */
const TABLE_OF =
  'SELECT COALESCE(t.relname, c.relname)::text AS name FROM pg_class c ' +
  'LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid ' +
  'WHERE c.relname = $1 ORDER BY c.oid LIMIT 1';

/**
 * PostgreSQL keeps no report of its latest deadlock (the statements go to the server log only): the account is
 * put together when the victim's 40P01 arrives — the processes and what they waited for from the error's
 * `detail`, the victim's relation from `where`, and, read at once while they are still open, the other sessions'
 * statements (fingerprinted: no values) and the tables they hold locks on. At most one every `minIntervalMs`.
 */
export class PgDeadlocks {
  private latest?: Promise<DeadlockAccount | undefined>;
  private lastCaptureAt = -Infinity;

  constructor(
    private readonly query: (sql: string, parameters: unknown[]) => Promise<Rows>,
    private readonly minIntervalMs: number,
  ) {}

  /** The victim's error (40P01) and its statement; reads the server off the caller's path, never throws. */
  capture(error: unknown, victimSql: string, victimPid: number | undefined): void {
    const now = Date.now();
    if (now - this.lastCaptureAt < this.minIntervalMs) return;
    this.lastCaptureAt = now;
    const { detail, where } = fieldsOf(error);
    this.latest = this.describe(new Date(now).toISOString(), detail, where, victimSql, victimPid).catch(
      () => undefined,
    );
  }

  latestDeadlock(): Promise<DeadlockAccount | undefined> {
    return this.latest ?? Promise.resolve(undefined);
  }

  private async describe(
    at: string,
    detail: string,
    where: string,
    victimSql: string,
    victimPid: number | undefined,
  ): Promise<DeadlockAccount | undefined> {
    const waits = [...detail.matchAll(PROCESS_LINE)].map(([, pid, mode, object, blocker]) => ({
      pid: Number(pid),
      mode,
      object,
      blocker: Number(blocker),
    }));
    if (waits.length === 0) return undefined;
    const others = waits.map((w) => w.pid).filter((pid) => pid !== victimPid);
    const sessions = new Map((await this.query(SESSIONS, [others])).map((row) => [Number(row.pid), row]));
    const relation = WHERE_RELATION.exec(where)?.[1];
    const [found] = relation === undefined ? [] : await this.query(TABLE_OF, [relation]);
    const victimTable = found ? String(found.name) : undefined;
    const blocksVictim = new Set(waits.filter((w) => w.pid === victimPid).map((w) => w.blocker));
    const transactions = waits.map(({ pid, mode, object }, index): DeadlockTransaction => {
      const victim = pid === victimPid;
      const session = sessions.get(pid);
      // What the victim waited on (`where`) is locked by its blocker: that table is the blocker's too, even when
      // it has committed since and its locks are gone.
      const held = victim ? [] : ((session?.tables as string[] | undefined) ?? []);
      const named = victimTable !== undefined && (victim || blocksVictim.has(pid)) ? [victimTable] : [];
      const tables = [...new Set([...named, ...held])];
      // A session that has finished since (idle) shows its last statement, not the one of the cycle.
      const statement = victim ? victimSql : session?.state === 'idle' ? '' : String(session?.query ?? '');
      const wait: DeadlockLock = {
        kind: object.startsWith('relation') ? 'table' : 'record',
        table: victim ? (victimTable ?? '') : (tables[0] ?? ''),
        mode,
        gap: false,
        recordOnly: object.startsWith('transaction'),
        insertIntention: false,
        waiting: true,
        trxId: /^transaction (\d+)$/.exec(object)?.[1],
      };
      return {
        number: index + 1,
        trxId: session?.xid === null || session?.xid === undefined ? undefined : String(session.xid),
        sessionId: pid,
        statement: statement === '' ? '' : fingerprintSql(statement),
        tables,
        holds: [],
        waitsFor: [wait],
        victim,
      };
    });
    const victimNumber = transactions.find((t) => t.victim)?.number;
    return { at, transactions, victim: victimNumber };
  }
}

/** `detail` and `where` of node-postgres's error (or TypeORM's copy of it), read defensively. */
function fieldsOf(error: unknown): { detail: string; where: string } {
  try {
    const record = error as { detail?: unknown; where?: unknown; driverError?: { detail?: unknown; where?: unknown } };
    const detail = record.detail ?? record.driverError?.detail;
    const where = record.where ?? record.driverError?.where;
    return {
      detail: typeof detail === 'string' ? detail.slice(0, 4000) : '',
      where: typeof where === 'string' ? where.slice(0, 1000) : '',
    };
  } catch {
    return { detail: '', where: '' };
  }
}
