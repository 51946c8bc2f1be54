import type { Transporter } from 'nodemailer';
import { loadOptionalPeer } from '../options/optional-peer';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import type { Alert, AlertCallback } from '../events/alert';
import type { ResilienceLogger } from '../events/resilience-logger';

/** Somewhere alerts go. */
export interface AlertChannel {
  readonly name: string;
  send(alert: Alert): Promise<void> | void;
}

export function logChannel(logger: ResilienceLogger): AlertChannel {
  return {
    name: 'log',
    send(alert) {
      const line = `ALERT [${alert.rule}] ${alert.title}${alert.suppressed ? ` (${alert.suppressed} more suppressed)` : ''}`;
      const fields = {
        event: 'alert',
        rule: alert.rule,
        database: alert.database,
        severity: alert.severity,
        suppressed: alert.suppressed,
        instance: alert.instance,
      };
      if (alert.severity === 'critical' || alert.severity === 'high') logger.error(line, fields);
      else logger.warn(line, fields);
    },
  };
}

export function callbackChannel(callback: AlertCallback, index: number): AlertChannel {
  return { name: `callback #${index + 1}`, send: (alert) => callback(alert) };
}

type EmailOptions = NonNullable<ResolvedResilienceOptions['alerts']['email']>;

/** E-mail through nodemailer over SMTP; the transport is made on first use and bounded by `timeoutMs`. */
export class EmailChannel implements AlertChannel {
  readonly name = 'email';
  private transport?: Transporter;

  private readonly createTransport: typeof import('nodemailer').createTransport;

  constructor(
    private readonly options: EmailOptions,
    private readonly timeoutMs: number,
  ) {
    this.createTransport = loadOptionalPeer<typeof import('nodemailer')>('nodemailer', 'alerts.email').createTransport;
  }

  async send(alert: Alert): Promise<void> {
    await this.deliver(`${alert.title}`, emailBody(alert));
  }

  /** Any text of the module's own (alerts, digests): never a value or a secret. */
  async deliver(subject: string, text: string): Promise<void> {
    this.transport ??= this.createTransport(withTimeouts(this.options.smtpUrl, this.timeoutMs));
    await this.transport.sendMail({
      from: this.options.from,
      to: this.options.to,
      subject: `${this.options.subjectPrefix} ${subject}`,
      text,
    });
  }

  close(): void {
    this.transport?.close();
  }
}

function emailBody(alert: Alert): string {
  return [
    alert.title,
    '',
    alert.summary,
    '',
    `Rule: ${alert.rule}`,
    `Severity: ${alert.severity}`,
    `Database: ${alert.database}`,
    `Instance: ${alert.instance}`,
    `At: ${alert.at.toISOString()}`,
    alert.suppressed > 0
      ? `Occurrences held back since the last mail (all instances sharing the store): ${alert.suppressed}`
      : '',
    '',
    'Sent by nestjs-database-resilience. Messages are redacted: no values, no credentials.',
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
}

/**
 * The SMTP URL with the connection, greeting and socket timeouts in its query: nodemailer reads transport options
 * from a URL's query, while the second argument of createTransport() holds message defaults, and an object with
 * `url` keeps only what the URL says.
 */
function withTimeouts(smtpUrl: string, timeoutMs: number): string {
  const url = new URL(smtpUrl);
  for (const name of ['connectionTimeout', 'greetingTimeout', 'socketTimeout']) {
    url.searchParams.set(name, String(timeoutMs));
  }
  return url.toString();
}
