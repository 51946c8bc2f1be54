import { ErrorCategory } from '../classification/error-category.enum';
import { Severity } from '../classification/severity.enum';
import type { FleetHotSpot } from '../shared-state/fleet-store';

/** Statements a hot-spot list shows, at most. */
export const TOP = 20;

/** Which view an answer holds: every instance's (through Redis), or only this instance's, and why. */
export interface FleetScope {
  scope: 'fleet' | 'local';
  /** Why the answer is local: no shared store configured, or Redis not answering. */
  reason?: string;
  /** The instance that answered. */
  instance: string;
}

export interface FleetFilter {
  database?: string;
  instance?: string;
}

export interface FleetStatistics extends FleetScope {
  windowMinutes: number;
  errors: number;
  byCategory: Record<string, number>;
  bySeverity: Record<string, number>;
  byDatabase: Record<string, number>;
  /** Per instance: errors in the window. */
  byInstance: Record<string, number>;
}

/** The statements the fleet met slow most often, and those that lost deadlocks most often, over `hours`. */
export interface FleetHotSpots extends FleetScope {
  hours: number;
  slowQueries: Array<{
    database: string;
    fingerprint: string;
    count: number;
    meanMs: number;
    byInstance: Record<string, number>;
  }>;
  deadlocks: {
    total: number;
    byInstance: Record<string, number>;
    topStatements: Array<{
      database: string;
      fingerprint: string;
      deadlocks: number;
      byInstance: Record<string, number>;
    }>;
  };
}

/** Hot spots summed per database and fingerprint (with each instance's share), most frequent first. */
export function summarize(spots: readonly FleetHotSpot[]): Pick<FleetHotSpots, 'slowQueries' | 'deadlocks'> {
  const group = (kind: FleetHotSpot['kind']) => {
    const groups = new Map<
      string,
      { database: string; fingerprint: string; count: number; totalMs: number; byInstance: Record<string, number> }
    >();
    for (const spot of spots) {
      if (spot.kind !== kind) continue;
      const key = `${spot.database}\t${spot.fingerprint}`;
      const g = groups.get(key) ?? {
        database: spot.database,
        fingerprint: spot.fingerprint,
        count: 0,
        totalMs: 0,
        byInstance: {},
      };
      g.count += spot.count;
      g.totalMs += spot.totalMs;
      g.byInstance[spot.instance] = (g.byInstance[spot.instance] ?? 0) + spot.count;
      groups.set(key, g);
    }
    return [...groups.values()].sort((a, b) => b.count - a.count);
  };
  const deadlocks = group('deadlock');
  const byInstance: Record<string, number> = {};
  for (const d of deadlocks)
    for (const [instance, n] of Object.entries(d.byInstance)) byInstance[instance] = (byInstance[instance] ?? 0) + n;
  return {
    slowQueries: group('slow')
      .slice(0, TOP)
      .map(({ database, fingerprint, count, totalMs, byInstance: shares }) => ({
        database,
        fingerprint,
        count,
        meanMs: Math.round((totalMs / count) * 10) / 10,
        byInstance: shares,
      })),
    deadlocks: {
      total: deadlocks.reduce((sum, d) => sum + d.count, 0),
      byInstance,
      topStatements: deadlocks.slice(0, TOP).map(({ database, fingerprint, count, byInstance: shares }) => ({
        database,
        fingerprint,
        deadlocks: count,
        byInstance: shares,
      })),
    },
  };
}

export function emptyStatistics(windowMinutes: number, scope: FleetScope): FleetStatistics {
  const zero = (values: object) => Object.fromEntries(Object.values(values).map((v: string) => [v, 0]));
  return {
    ...scope,
    windowMinutes,
    errors: 0,
    byCategory: zero(ErrorCategory),
    bySeverity: zero(Severity),
    byDatabase: {},
    byInstance: {},
  };
}
