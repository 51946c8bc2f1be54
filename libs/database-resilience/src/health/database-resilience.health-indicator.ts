import { Inject, Injectable } from '@nestjs/common';
import { DegradationService } from '../degradation/degradation.service';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { DatabaseHealthService, type DatabaseHealth, type HealthStatus } from './health-check.service';

/** What the indicator gives Terminus under its key (the shape of Terminus' `HealthIndicatorResult`). */
export type ResilienceHealthResult = Record<
  string,
  {
    status: HealthStatus;
    databases: Record<string, Omit<DatabaseHealth, 'database'>>;
    degradation: { degraded: boolean; reason: string | null };
  }
>;

/**
 * A Terminus health indicator (`@nestjs/terminus` is not needed by the module itself):
 * `health.check([() => indicator.isHealthy('database')])`. `down` when a database did not answer; `degraded`
 * (Terminus 11+) when it answers but a breaker is not closed, a replica is down, or the service is degraded.
 */
@Injectable()
export class DatabaseResilienceHealthIndicator {
  constructor(
    private readonly health: DatabaseHealthService,
    private readonly degradation: DegradationService,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  /**
   * Uses the scheduled check's results while they are fresh (younger than one interval plus the timeout), and
   * runs a check otherwise, or always with `fresh: true`.
   */
  async isHealthy(key = 'database', options: { fresh?: boolean } = {}): Promise<ResilienceHealthResult> {
    const results = options.fresh || !this.isFresh() ? await this.health.check() : this.health.lastResults();
    const degradation = this.degradation.state();
    const databases: ResilienceHealthResult[string]['databases'] = {};
    for (const { database, ...rest } of results) databases[database] = rest;
    const status: HealthStatus = results.some((r) => r.status === 'down')
      ? 'down'
      : results.some((r) => r.status === 'degraded') || degradation.degraded
        ? 'degraded'
        : 'up';
    return {
      [key]: { status, databases, degradation: { degraded: degradation.degraded, reason: degradation.reason } },
    };
  }

  private isFresh(): boolean {
    const { enabled, intervalMs, timeoutMs } = this.options.healthCheck;
    const results = this.health.lastResults();
    if (!enabled || results.length === 0) return false;
    const oldest = Math.min(...results.map((r) => Date.parse(r.checkedAt)));
    return Date.now() - oldest < intervalMs + timeoutMs;
  }
}
