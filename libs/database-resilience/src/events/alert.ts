import type { Severity } from '../classification/severity.enum';

/** The rules that raise alerts. */
export type AlertRule =
  'severe-error' | 'error-rate' | 'breaker-open' | 'degraded' | 'deadlock-cluster' | 'writer-changed';

/** What operators are told. Safe to send anywhere: no secrets, no SQL values. */
export interface Alert {
  readonly rule: AlertRule;
  readonly severity: `${Severity}`;
  readonly database: string;
  readonly at: Date;
  /** One line. */
  readonly title: string;
  /** A few lines: what happened, how often, what it means. */
  readonly summary: string;
  /** Alerts of this rule and database held back since the last one was sent (on every instance, with a shared store). */
  readonly suppressed: number;
  /** The instance that raised it (`instanceId`). */
  readonly instance: string;
}

/** A channel of your own (`alerts.callbacks`). It may be async; it never delays a request. */
export type AlertCallback = (alert: Alert) => void | Promise<void>;
