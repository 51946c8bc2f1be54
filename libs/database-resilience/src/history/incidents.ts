import type { ErrorRecord } from './error-history';

/** Repeated failures of one kind, as an operator reads them: one row per code, route and database. */
export interface IncidentGroup {
  database: string;
  /** The catalogue's code (`ER_LOCK_DEADLOCK`, `ECONNREFUSED`...) or name. */
  code: string;
  category: string;
  severity: string;
  /** The route pattern, or the operation when the failure was outside an HTTP request. */
  route: string | undefined;
  operation: string | undefined;
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** Of the attempts in the group: how their units ended. */
  outcomes: { retrying: number; recovered: number; failed: number };
  /** The newest occurrence's message (redacted). */
  message: string;
}

export interface IncidentFilter {
  severity?: string;
  category?: string;
  database?: string;
}

/** Groups the history's records (newest first), filtered; groups ordered by their last occurrence. */
export function groupIncidents(records: readonly ErrorRecord[], filter: IncidentFilter = {}): IncidentGroup[] {
  const groups = new Map<string, IncidentGroup>();
  for (const record of records) {
    const { error } = record;
    if (filter.severity !== undefined && error.severity !== filter.severity) continue;
    if (filter.category !== undefined && error.category !== filter.category) continue;
    if (filter.database !== undefined && record.database !== filter.database) continue;
    const code = error.code ?? (error.errno === undefined ? error.name : String(error.errno));
    const key = [record.database, code, record.route ?? '', record.route ? '' : (record.operation ?? '')].join(
      '\u0000',
    );
    const at = record.at.toISOString();
    let group = groups.get(key);
    if (!group) {
      group = {
        database: record.database,
        code,
        category: error.category,
        severity: error.severity,
        route: record.route,
        operation: record.operation,
        count: 0,
        firstSeen: at,
        lastSeen: at,
        outcomes: { retrying: 0, recovered: 0, failed: 0 },
        message: error.message,
      };
      groups.set(key, group);
    }
    group.count++;
    group.outcomes[record.outcome]++;
    // Records come newest first: the first seen is the oldest one met.
    if (at < group.firstSeen) group.firstSeen = at;
    if (at > group.lastSeen) group.lastSeen = at;
  }
  return [...groups.values()].sort((a, b) => (a.lastSeen < b.lastSeen ? 1 : a.lastSeen > b.lastSeen ? -1 : 0));
}
