import { fingerprintSql } from '../../classification/sql-fingerprint';
import type { DeadlockAccount, DeadlockLock, DeadlockTransaction } from '../deadlock-account';

const LOCK_LINE =
  /^(RECORD LOCKS .*? index (\S+) of table|TABLE LOCK table) `([^`]+)`\.`([^`]+)`(?: \/\* .*? \*\/)? trx id (\d+) lock[_ ]mode ([A-Z-]+)(.*)$/;

/**
 * Parses the LATEST DETECTED DEADLOCK section of `SHOW ENGINE INNODB STATUS`, in MySQL 8's format
 * (`*** (n) HOLDS THE LOCK(S):` / `*** (n) WAITING FOR THIS LOCK TO BE GRANTED:`) and MariaDB 10.6+'s
 * (`*** WAITING FOR THIS LOCK TO BE GRANTED:` / `*** CONFLICTING WITH:`, where the conflicting locks are the other
 * transaction's). Record dumps (hex of row values) are skipped. Undefined when there is no deadlock section.
 */
export function parseLatestDeadlock(status: string): DeadlockAccount | undefined {
  const start = status.indexOf('LATEST DETECTED DEADLOCK');
  if (start === -1) return undefined;
  const end = status.indexOf('\nTRANSACTIONS\n', start);
  const lines = status.slice(start, end === -1 ? undefined : end).split('\n');

  const deadlock: DeadlockAccount = { at: '', transactions: [] };
  const conflicting: DeadlockLock[] = [];
  let current: DeadlockTransaction | undefined;
  let section: 'header' | 'statement' | 'holds' | 'waits' | 'conflicting' | 'none' = 'none';
  let statement: string[] = [];

  const closeStatement = () => {
    if (current && section === 'statement') current.statement = fingerprintSql(statement.join('\n'));
    statement = [];
  };

  for (const raw of lines) {
    const line = raw.trimEnd();
    const when = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/.exec(line);
    if (when && !deadlock.at) {
      deadlock.at = when[1];
      continue;
    }
    const transaction = /^\*\*\* \((\d+)\) TRANSACTION:/.exec(line);
    if (transaction) {
      closeStatement();
      current = { number: Number(transaction[1]), statement: '', tables: [], holds: [], waitsFor: [], victim: false };
      deadlock.transactions.push(current);
      section = 'header';
      continue;
    }
    if (line.startsWith('***')) {
      closeStatement();
      const victim = /^\*\*\* WE ROLL BACK TRANSACTION \((\d+)\)/.exec(line);
      if (victim) {
        deadlock.victim = Number(victim[1]);
        section = 'none';
      } else if (/HOLDS THE LOCK/.test(line)) section = 'holds';
      else if (/WAITING FOR THIS LOCK/.test(line)) section = 'waits';
      else if (/CONFLICTING WITH/.test(line)) section = 'conflicting';
      else section = 'none';
      continue;
    }
    if (!current) continue;
    if (section === 'header') {
      const trx = /^TRANSACTION (\d+), ACTIVE (\d+) sec/.exec(line);
      if (trx) {
        current.trxId = trx[1];
        current.activeSeconds = Number(trx[2]);
      }
      const thread = /^(?:MySQL|MariaDB) thread id (\d+)/.exec(line);
      if (thread) {
        current.sessionId = Number(thread[1]);
        section = 'statement'; // InnoDB prints the current statement right after this line
      }
      continue;
    }
    if (section === 'statement') {
      if (line.length > 0) statement.push(line);
      continue;
    }
    const lock = parseLock(line);
    if (!lock) continue;
    if (section === 'holds') current.holds.push(lock);
    else if (section === 'waits') current.waitsFor.push(lock);
    else if (section === 'conflicting') conflicting.push(lock);
  }
  closeStatement();

  for (const t of deadlock.transactions) {
    // MariaDB lists what each transaction waits for and whose locks stand in the way: those are held.
    t.holds.push(...conflicting.filter((lock) => lock.trxId !== undefined && lock.trxId === t.trxId));
    t.tables = [...new Set([...t.holds, ...t.waitsFor].map((lock) => lock.table))];
    t.victim = t.number === deadlock.victim;
  }
  return deadlock.transactions.length > 0 ? deadlock : undefined;
}

function parseLock(line: string): DeadlockLock | undefined {
  const match = LOCK_LINE.exec(line);
  if (!match) return undefined;
  const rest = match[7];
  return {
    kind: match[1].startsWith('TABLE') ? 'table' : 'record',
    table: `${match[3]}.${match[4]}`,
    index: match[2],
    mode: match[6],
    gap: /locks gap before rec/.test(rest),
    recordOnly: /locks rec but not gap/.test(rest),
    insertIntention: /insert intention/.test(rest),
    waiting: /\bwaiting\b/.test(rest),
    trxId: match[5],
  };
}
