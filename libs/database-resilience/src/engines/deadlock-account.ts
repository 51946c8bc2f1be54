/** One lock of a deadlock: InnoDB's lock lines, or what PostgreSQL's error says a process waits for. */
export interface DeadlockLock {
  kind: 'record' | 'table';
  /** `schema.table`. */
  table: string;
  index?: string;
  /** X, S, IX, IS, AUTO-INC. */
  mode: string;
  /** `locks gap before rec`. */
  gap: boolean;
  /** `locks rec but not gap`. */
  recordOnly: boolean;
  insertIntention: boolean;
  waiting: boolean;
  trxId?: string;
}

export interface DeadlockTransaction {
  /** Its number in the account (InnoDB numbers them 1 and 2 in its report). */
  number: number;
  trxId?: string;
  activeSeconds?: number;
  /** The server's id of its session (MySQL thread id, PostgreSQL pid). */
  sessionId?: number;
  /** The transaction's current statement, as a fingerprint: no values. */
  statement: string;
  tables: string[];
  holds: DeadlockLock[];
  waitsFor: DeadlockLock[];
  victim: boolean;
}

/** The server's account of a deadlock (InnoDB's latest report, or PostgreSQL's error and its sessions), parsed; values never kept. */
export interface DeadlockAccount {
  /** As the server printed it, e.g. `2026-03-02 14:07:19`. */
  at: string;
  transactions: DeadlockTransaction[];
  /** Number of the transaction InnoDB rolled back. */
  victim?: number;
}
