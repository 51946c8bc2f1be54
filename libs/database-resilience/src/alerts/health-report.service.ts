import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { redactMessage } from '../classification/redaction';
import { ErrorStatisticsService } from '../history/error-statistics.service';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { AlertsService } from './alerts.service';
import { ResilienceLogger } from '../events/resilience-logger';

/** A periodic summary per database (`reports.intervalMs`): a log line each, and an e-mail digest if asked. */
@Injectable()
export class HealthReportService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly statistics: ErrorStatisticsService,
    private readonly alerts: AlertsService,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
  ) {}

  onApplicationBootstrap(): void {
    const { intervalMs } = this.options.reports;
    if (intervalMs === null) return;
    this.timer = setInterval(() => void this.report(), intervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The summary lines of the last interval, one per database; logged, and mailed when configured. */
  async report(): Promise<string[]> {
    const windowMinutes = Math.max(1, Math.ceil((this.options.reports.intervalMs ?? 3_600_000) / 60_000));
    const stats = this.statistics.statistics({ windowMinutes });
    const databases = new Set([...this.options.databases, ...Object.keys(stats.byDatabase)]);
    const lines = [...databases].map((database) => {
      const totals = stats.byDatabase[database];
      if (!totals || totals.errors === 0) return `${database}: no errors in the last ${windowMinutes} min`;
      const categories = Object.entries(totals.byCategory)
        .filter(([, n]) => n > 0)
        .map(([category, n]) => `${category} ${n}`)
        .join(', ');
      const recovery =
        totals.recoveryRate === null ? 'no retries' : `${Math.round(totals.recoveryRate * 100)} % recovered`;
      return `${database}: ${totals.errors} errors in the last ${windowMinutes} min (${categories}); ${recovery}`;
    });
    lines.forEach((line) => this.logger.log(`Health report: ${line}`, { event: 'health-report' }));
    if (this.options.reports.email && this.alerts.email) {
      await this.alerts.email.deliver('Database health report', lines.join('\n')).catch((error: unknown) =>
        this.logger.warn(`Health report e-mail failed: ${redactMessage(String((error as Error)?.message ?? error))}`, {
          event: 'health-report-email-failed',
        }),
      );
    }
    return lines;
  }
}
