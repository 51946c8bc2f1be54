import { withTimeout } from '../context/with-timeout';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { redactMessage } from '../classification/redaction';
import { Severity } from '../classification/severity.enum';
import type { ResilienceEvent } from '../events/resilience-event';
import { ResilienceEvents } from '../events/resilience-events';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';
import { ErrorCategory } from '../classification/error-category.enum';
import type { Alert, AlertRule } from '../events/alert';
import { callbackChannel, EmailChannel, logChannel, type AlertChannel } from './alert-channels';
import { ResilienceLogger } from '../events/resilience-logger';
import { SharedStateStore } from '../shared-state/shared-state-store';
import { instanceIdOf } from '../options/instance-id';

const RANK: Record<`${Severity}`, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const MINUTE = 60_000;

type Draft = Omit<Alert, 'suppressed' | 'at' | 'instance'>;

/**
 * Alert rules over ResilienceEvents: a severe error (at once), too many errors a minute, a breaker opening,
 * degradation turning on, a deadlock cluster. Each rule and database is rate-limited (`cooldownMs`); the next
 * alert says how many were held back. With a shared store the cooldown holds for the fleet: the instance that
 * claims the alert sends it (naming itself), the others' occurrences are counted in it. Channels run after the
 * request, each bounded by `channelTimeoutMs`: a channel that fails or hangs is logged and dropped.
 */
@Injectable()
export class AlertsService implements OnModuleDestroy {
  private readonly logger = new ResilienceLogger();
  private readonly channels: AlertChannel[];
  readonly email?: EmailChannel;
  private readonly lastSent = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private readonly perMinute = new Map<string, { minute: number; errors: number; alerted: boolean }>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private readonly instance: string;

  constructor(
    private readonly events: ResilienceEvents,
    @Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions,
    private readonly store: SharedStateStore,
  ) {
    this.instance = instanceIdOf(options);
    const { alerts } = options;
    this.email = alerts.email ? new EmailChannel(alerts.email, alerts.channelTimeoutMs) : undefined;
    this.channels = [
      ...(alerts.log ? [logChannel(this.logger)] : []),
      ...alerts.callbacks.map(callbackChannel),
      ...(this.email ? [this.email] : []),
    ];
    this.unsubscribe = events.subscribe((event) => this.observe(event), {
      types: ['attempt-failed', 'deadlock-cluster', 'breaker-state', 'writer-changed', 'degradation'],
    });
  }

  /** Waits for the alerts being delivered (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async onModuleDestroy(): Promise<void> {
    this.unsubscribe();
    await this.flush();
    this.email?.close();
  }

  private observe(event: ResilienceEvent): void {
    const draft = this.evaluate(event);
    if (draft) this.raise(draft, event.at);
  }

  private evaluate(event: ResilienceEvent): Draft | undefined {
    const { alerts } = this.options;
    switch (event.type) {
      case 'attempt-failed': {
        const { error, database } = event;
        // A stale connection's read-only answer that will be re-run is a failover's, said once by `writer-changed`.
        if (event.willRetry && error.category === ErrorCategory.READ_ONLY) return undefined;
        if (RANK[error.severity] >= RANK[alerts.minSeverity]) {
          return {
            rule: 'severe-error',
            severity: error.severity,
            database,
            title: `${error.severity} database error on "${database}": ${error.category} (${error.errno ?? error.code ?? error.name})`,
            summary:
              `${event.operation ?? 'A unit of work'} failed (attempt ${event.attempt}${event.willRetry ? ', will retry' : ', gave up'}). ` +
              `Recommended action: ${error.action}. Message: ${error.message}`,
          };
        }
        return this.countForRate(database, event.at);
      }
      case 'deadlock-cluster':
        return {
          rule: 'deadlock-cluster',
          severity: Severity.HIGH,
          database: event.database,
          title: `Deadlock cluster on "${event.database}": ${event.deadlocks} deadlocks within ${Math.round(event.windowMs / 1000)} s`,
          summary:
            'Transactions keep taking the same rows in opposite orders. See the deadlock hot spots (top statements and table pairs).',
        };
      case 'breaker-state':
        if (event.state !== 'open') return undefined;
        return {
          rule: 'breaker-open',
          severity: Severity.CRITICAL,
          database: event.database,
          title: `Circuit breaker of "${event.database}" opened`,
          summary: 'Calls to this database are rejected at once until a probe succeeds.',
        };
      case 'writer-changed': {
        const { database, previous, current, evicted, writesFailedMs } = event;
        return {
          rule: 'writer-changed',
          severity: Severity.HIGH,
          database,
          title: `Writer of "${database}" changed: ${previous ?? 'unknown'} → ${current ?? 'unknown'}`,
          summary:
            `${evicted} connection(s) to the old writer evicted; writes failed for ${Math.round(writesFailedMs)} ms ` +
            '(units of work that met the old writer were re-run on the new one).',
        };
      }
      case 'degradation':
        if (!event.degraded) return undefined;
        return {
          rule: 'degraded',
          severity: Severity.HIGH,
          database: event.database,
          title: `Graceful degradation on: ${event.reason}`,
          summary: 'Non-essential routes answer 503 until the database is healthy again.',
        };
      default:
        return undefined;
    }
  }

  /** The error-rate rule: more than `errorsPerMinute` errors on a database within one clock minute. */
  private countForRate(database: string, at: number): Draft | undefined {
    const minute = at - (at % MINUTE);
    let counter = this.perMinute.get(database);
    if (!counter || counter.minute !== minute)
      this.perMinute.set(database, (counter = { minute, errors: 0, alerted: false }));
    counter.errors++;
    if (counter.errors <= this.options.alerts.errorsPerMinute || counter.alerted) return undefined;
    counter.alerted = true;
    return {
      rule: 'error-rate',
      severity: Severity.HIGH,
      database,
      title: `More than ${this.options.alerts.errorsPerMinute} database errors a minute on "${database}"`,
      summary: 'See the statistics for the categories and the recent errors.',
    };
  }

  private raise(draft: Draft, at: number): void {
    const key = `${draft.rule}:${draft.database}`;
    const occurrences = (this.suppressed.get(key) ?? 0) + 1;
    const last = this.lastSent.get(key);
    if (last !== undefined && at - last < this.options.alerts.cooldownMs) {
      this.suppressed.set(key, occurrences);
      return;
    }
    this.lastSent.set(key, at);
    this.suppressed.delete(key);
    this.track(this.claimAndSend(key, draft, at, occurrences));
  }

  /** Sends the alert if this instance claims it for the fleet (or when no store shares alerts). */
  private async claimAndSend(key: string, draft: Draft, at: number, occurrences: number): Promise<void> {
    const { cooldownMs, fleetGatherMs } = this.options.alerts;
    // Without a cooldown there is nothing to share: every instance sends every alert.
    const claimed = cooldownMs > 0 ? await this.store.claimAlert?.(key, cooldownMs, occurrences) : undefined;
    if (claimed === false) return; // another instance sends it, with these occurrences counted
    let total = occurrences;
    if (claimed) {
      // The others met the same incident at about the same time: count them in this alert.
      await new Promise((resolve) => setTimeout(resolve, fleetGatherMs).unref());
      total = (await this.store.takeAlertCount?.(key)) ?? occurrences;
    }
    const alert: Alert = { ...draft, at: new Date(at), suppressed: Math.max(0, total - 1), instance: this.instance };
    this.events.emit({ type: 'alert-raised', at, rule: alert.rule, database: alert.database });
    for (const channel of this.channels) this.deliver(channel, alert);
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((error: unknown) =>
        this.logger.warn(`Alert not raised: ${redactMessage(String((error as Error)?.message ?? error))}`, {
          event: 'alert-failed',
        }),
      )
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Off the caller's path, bounded, and never throwing. */
  private deliver(channel: AlertChannel, alert: Alert): void {
    const timeoutMs = this.options.alerts.channelTimeoutMs;
    const delivery = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        const sent = await withTimeout(
          Promise.resolve()
            .then(() => channel.send(alert))
            .then(() => true),
          timeoutMs,
        );
        if (sent === undefined) throw new Error(`no answer within ${timeoutMs} ms`);
      })
      .catch((error: unknown) => {
        this.logger.warn(
          `Alert channel ${channel.name} failed for ${alert.rule}: ${redactMessage(String((error as Error)?.message ?? error))}`,
          { event: 'alert-channel-failed', database: alert.database, rule: alert.rule },
        );
      })
      .finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
  }
}

export type { AlertRule };
