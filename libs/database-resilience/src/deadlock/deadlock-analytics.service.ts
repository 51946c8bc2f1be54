import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ErrorCategory } from '../classification/error-category.enum';
import { ErrorClassifier } from '../classification/error-classifier';
import type { CertificationConflict } from '../classification/classified-error';
import type { AttemptFailedEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { DataSourceRegistry } from '../engines/data-source-registry';
import type { DeadlockAccount } from '../engines/deadlock-account';
import { ResilienceLogger } from '../events/resilience-logger';

interface DatabaseDeadlocks {
  seen: number;
  conflicts: CertificationCounts;
  fingerprints: Map<string, number>;
  tablePairs: Map<string, number>;
  /** Times of the latest deadlocks, at most clusterThreshold + 1 of them. */
  recent: number[];
  clusters: number;
  clusterUntil: number;
  latest?: DeadlockAccount;
  lastFetch: number;
  /** false once the server said we lack the PROCESS privilege. */
  /** Whether the server's report is read (false once the server refused it). */
  serverReport: boolean;
  serverBaseline?: number;
}

interface CertificationCounts {
  seen: number;
  statements: Map<string, number>;
  tables: Map<string, number>;
  nodes: Map<string, number>;
}

/** A synchronous cluster's certification conflicts (Galera: 1213 at COMMIT), kept apart from InnoDB deadlocks. */
export interface CertificationConflictReport {
  conflicts: number;
  topStatements: Array<{ fingerprint: string; conflicts: number }>;
  topTables: Array<{ tables: string; conflicts: number }>;
  /** The nodes the losing transactions ran on, as the app reached them. */
  topNodes: Array<{ node: string; conflicts: number }>;
}

export interface DeadlockReport {
  database: string;
  /** Deadlocks the app met since start. */
  deadlocks: number;
  /** Deadlocks the server counted since start (Innodb_deadlocks / lock_deadlocks), when it could be read. */
  serverDeadlocks: number | null;
  clusters: number;
  inCluster: boolean;
  topStatements: Array<{ fingerprint: string; deadlocks: number }>;
  topTablePairs: Array<{ tables: string; deadlocks: number }>;
  /** The server's account of the latest deadlock, parsed; null when it cannot be read, or before the first. */
  latest: DeadlockAccount | null;
  certification: CertificationConflictReport;
}

/**
 * Deadlock analytics: counts per database, per statement fingerprint and per pair of tables; clusters; and
 * after a deadlock the server's own account (the engine's: InnoDB's report, PostgreSQL's sessions; rate-limited,
 * off the request path).
 */
@Injectable()
export class DeadlockAnalyticsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private readonly perDatabase = new Map<string, DatabaseDeadlocks>();
  private readonly unsubscribe: () => void;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly events: ResilienceEvents,
    private readonly dataSources: DataSourceRegistry,
    private readonly classifier: ErrorClassifier,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {
    this.unsubscribe = events.subscribe(
      (event) => {
        if (event.type === 'attempt-failed' && event.error.category === ErrorCategory.DEADLOCK) this.record(event);
      },
      { types: ['attempt-failed'] },
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const name of this.options.databases) {
      if (!this.dataSources.has(name)) continue;
      const state = this.stateOf(name);
      state.serverBaseline = await this.serverCounter(name).catch(() => undefined);
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe();
    await Promise.allSettled([...this.pending]);
  }

  /** The analytics of every database the module saw, or of one. */
  async report(database?: string): Promise<DeadlockReport[]> {
    const names = database === undefined ? [...this.perDatabase.keys()] : [database];
    return Promise.all(names.map((name) => this.reportOf(name)));
  }

  private record(event: AttemptFailedEvent): void {
    const { deadlocks } = this.options;
    const state = this.stateOf(event.database);
    const { conflict } = event.error;
    if (conflict) return recordConflict(state.conflicts, conflict, deadlocks.maxFingerprints);
    state.seen++;
    if (event.error.sql) bump(state.fingerprints, event.error.sql, deadlocks.maxFingerprints);
    state.recent.push(event.at);
    if (state.recent.length > deadlocks.clusterThreshold + 1) state.recent.shift();
    const inWindow = state.recent.filter((at) => event.at - at <= deadlocks.clusterWindowMs).length;
    if (inWindow > deadlocks.clusterThreshold && event.at >= state.clusterUntil) {
      state.clusters++;
      state.clusterUntil = event.at + deadlocks.clusterWindowMs;
      this.events.emit({
        type: 'deadlock-cluster',
        at: event.at,
        database: event.database,
        deadlocks: inWindow,
        windowMs: deadlocks.clusterWindowMs,
      });
    }
    if (
      deadlocks.serverReport &&
      state.serverReport &&
      event.at - state.lastFetch >= deadlocks.serverReportMinIntervalMs
    ) {
      state.lastFetch = event.at;
      const fetching = this.fetchServerReport(event.database, state).finally(() => this.pending.delete(fetching));
      this.pending.add(fetching);
    }
  }

  /** Reads the server's own account of the latest deadlock (the engine's), outside any unit of work; never throws. */
  private async fetchServerReport(database: string, state: DatabaseDeadlocks): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // after the failing request has moved on
    try {
      const parsed = await this.dataSources.get(database).guard.latestDeadlock();
      if (!parsed || parsed.at === state.latest?.at) return;
      state.latest = parsed;
      const tables = [...new Set(parsed.transactions.flatMap((t) => t.tables))].sort();
      if (tables.length > 0)
        bump(
          state.tablePairs,
          tables.length === 1 ? `${tables[0]} ↔ ${tables[0]}` : tables.join(' ↔ '),
          this.options.deadlocks.maxFingerprints,
        );
    } catch (error) {
      const classified = this.classifier.classify(error);
      if (
        classified.errno === 1227 ||
        classified.errno === 1045 ||
        classified.category === ErrorCategory.AUTHENTICATION
      ) {
        state.serverReport = false;
        this.logger.warn(
          `Cannot read the server's deadlock report on "${database}" (MySQL/MariaDB: the PROCESS privilege is ` +
            "needed for SHOW ENGINE INNODB STATUS): deadlocks are still counted, without the server's own account",
          { event: 'deadlock-report-denied', database },
        );
      } else {
        this.logger.warn(`Could not read the server's deadlock report on "${database}": ${classified.message}`, {
          event: 'deadlock-report-failed',
          database,
          category: classified.category,
        });
      }
    }
  }

  private async reportOf(database: string): Promise<DeadlockReport> {
    const state = this.stateOf(database);
    const now = Date.now();
    const server = this.dataSources.has(database)
      ? await this.serverCounter(database).catch(() => undefined)
      : undefined;
    return {
      database,
      deadlocks: state.seen,
      serverDeadlocks:
        server !== undefined && state.serverBaseline !== undefined ? server - state.serverBaseline : null,
      clusters: state.clusters,
      inCluster: now < state.clusterUntil,
      topStatements: top(state.fingerprints).map(([fingerprint, deadlocks]) => ({ fingerprint, deadlocks })),
      topTablePairs: top(state.tablePairs).map(([tables, deadlocks]) => ({ tables, deadlocks })),
      latest: state.latest ?? null,
      certification: {
        conflicts: state.conflicts.seen,
        topStatements: top(state.conflicts.statements).map(([fingerprint, conflicts]) => ({ fingerprint, conflicts })),
        topTables: top(state.conflicts.tables).map(([tables, conflicts]) => ({ tables, conflicts })),
        topNodes: top(state.conflicts.nodes).map(([node, conflicts]) => ({ node, conflicts })),
      },
    };
  }

  /** The server's own deadlock counter, where its engine keeps one. */
  private async serverCounter(database: string): Promise<number | undefined> {
    return this.dataSources.get(database).guard.deadlockCounter();
  }

  private stateOf(database: string): DatabaseDeadlocks {
    let state = this.perDatabase.get(database);
    if (!state) {
      state = {
        seen: 0,
        conflicts: { seen: 0, statements: new Map(), tables: new Map(), nodes: new Map() },
        fingerprints: new Map(),
        tablePairs: new Map(),
        recent: [],
        clusters: 0,
        clusterUntil: 0,
        lastFetch: -Infinity,
        serverReport: true,
      };
      this.perDatabase.set(database, state);
    }
    return state;
  }
}

/** A certification conflict: counted by statement, tables and node; no server report (it is no InnoDB cycle). */
function recordConflict(counts: CertificationCounts, conflict: CertificationConflict, limit: number): void {
  counts.seen++;
  for (const statement of conflict.statements) bump(counts.statements, statement, limit);
  if (conflict.tables.length > 0) bump(counts.tables, [...conflict.tables].sort().join(' ↔ '), limit);
  if (conflict.node !== undefined) bump(counts.nodes, conflict.node, limit);
}

/** Counts a key; a new key beyond `limit` distinct ones is not kept (the counts stay bounded). */
function bump(counts: Map<string, number>, key: string, limit: number): void {
  const current = counts.get(key);
  if (current !== undefined) counts.set(key, current + 1);
  else if (counts.size < limit) counts.set(key, 1);
}

function top(counts: Map<string, number>, n = 10): Array<[string, number]> {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}
