import { Injectable } from '@nestjs/common';
import { DataSourceRegistry } from '../engines/data-source-registry';
import type { PoolFigures, ReplicaRoute } from '../engines/database-engine';
import type { ConcurrencyLimitState } from '../engines/pool-concurrency-limit';
import { ResilienceLogger } from '../events/resilience-logger';

/** At most one saturation warning per database in this time. */
const WARN_EVERY_MS = 60_000;

/** The connection pools of the guarded DataSources: figures on demand, and a warning when one is saturated. */
@Injectable()
export class PoolMonitor {
  private readonly logger = new ResilienceLogger();
  private readonly lastWarned = new Map<string, number>();

  constructor(private readonly dataSources: DataSourceRegistry) {}

  /** Figures per guarded database (those whose pool exists: a DataSource not yet connected has none). */
  figures(): Record<string, PoolFigures> {
    const all: Record<string, PoolFigures> = {};
    for (const { name, guard } of this.dataSources.list()) {
      const figures = guard.poolFigures();
      if (figures) all[name] = figures;
    }
    return all;
  }

  /** The adaptive limit in front of each pool (`concurrencyLimit`), where it is on and has been used. */
  concurrencyLimits(): ConcurrencyLimitState[] {
    return this.dataSources.list().flatMap(({ guard }) => guard.concurrencyLimit() ?? []);
  }

  /** Each replica of each guarded DataSource: its lag as last measured, and whether reads go to it now. */
  replicaRoutes(): Array<ReplicaRoute & { database: string }> {
    return this.dataSources
      .list()
      .flatMap(({ name, guard }) => guard.replicaRoutes().map((route) => ({ database: name, ...route })));
  }

  /** Reads the figures and warns about saturated pools (the scheduled health check calls it). */
  check(): Record<string, PoolFigures> {
    const all = this.figures();
    const now = Date.now();
    for (const [name, figures] of Object.entries(all)) {
      if (!isSaturated(figures) || now - (this.lastWarned.get(name) ?? -Infinity) < WARN_EVERY_MS) continue;
      this.lastWarned.set(name, now);
      this.logger.warn(
        `Connection pool of "${name}" is saturated: ${figures.inUse}/${figures.limit} connections in use, ` +
          `${figures.waiting} callers waiting. Raise poolSize, shorten transactions, or look for a slow query.`,
        { event: 'pool-saturated', database: name, waiting: figures.waiting },
      );
    }
    return all;
  }
}

/** Every connection in use and callers queued behind them. */
function isSaturated(figures: PoolFigures): boolean {
  return figures.limit !== null && figures.inUse >= figures.limit && figures.waiting > 0;
}
