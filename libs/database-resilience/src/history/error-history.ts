import type { ClassifiedError } from '../classification/classified-error';

export type ErrorOutcome = 'retrying' | 'recovered' | 'failed';

/** One failed attempt, as kept in the history. */
export interface ErrorRecord {
  readonly at: Date;
  readonly database: string;
  readonly operation: string | undefined;
  readonly requestId: string | undefined;
  /** The route pattern of the HTTP request, when the module's interceptor saw one. */
  readonly route: string | undefined;
  readonly attempt: number;
  /** `retrying` until the unit of work ends; then `recovered` or `failed`. */
  outcome: ErrorOutcome;
  readonly error: ClassifiedError;
}

/** The history's view of a record, ready to serialise: message redacted, statement fingerprinted. */
export interface ErrorRecordView {
  at: string;
  database: string;
  operation: string | undefined;
  requestId: string | undefined;
  route: string | undefined;
  attempt: number;
  outcome: ErrorOutcome;
  category: string;
  severity: string;
  action: string;
  errno: number | undefined;
  code: string | undefined;
  sqlState: string | undefined;
  message: string;
  sql: string | undefined;
}

/**
 * The last `capacity` failed attempts in a ring: recording is O(1) and the memory is bounded whatever the error
 * rate. A record keeps the classification, whose message is redacted only when someone reads it.
 */
export class ErrorHistory {
  private readonly ring: Array<ErrorRecord | undefined>;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<ErrorRecord | undefined>(capacity);
  }

  record(entry: ErrorRecord): void {
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  /** Newest first, at most `limit`, optionally of one database. Costs at most the history's size. */
  recent(limit: number, database?: string): ErrorRecord[] {
    const found: ErrorRecord[] = [];
    for (let i = 1; i <= this.size && found.length < limit; i++) {
      const entry = this.ring[(this.next - i + this.capacity) % this.capacity]!;
      if (database === undefined || entry.database === database) found.push(entry);
    }
    return found;
  }

  get length(): number {
    return this.size;
  }
}

export function viewOf(record: ErrorRecord): ErrorRecordView {
  const { error } = record;
  return {
    at: record.at.toISOString(),
    database: record.database,
    operation: record.operation,
    requestId: record.requestId,
    route: record.route,
    attempt: record.attempt,
    outcome: record.outcome,
    category: error.category,
    severity: error.severity,
    action: error.action,
    errno: error.errno,
    code: error.code,
    sqlState: error.sqlState,
    message: error.message,
    sql: error.sql,
  };
}
