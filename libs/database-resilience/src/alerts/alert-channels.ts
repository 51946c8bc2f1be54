import { connect, type Socket } from 'node:net';
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

/**
 * E-mail through nodemailer over SMTP, one connection per message, bounded by `timeoutMs`. nodemailer closes a
 * connection it is done with (sent, or given up on) with a half-close, which a server that stopped reading never
 * completes: the socket would stay open for good. Each socket is the channel's own (the transport's `getSocket`),
 * and closing it resets it: nothing of a stalled server's connection stays on the app's side, or on the server's.
 */
export class EmailChannel implements AlertChannel {
  readonly name = 'email';
  private readonly sockets = new Set<Socket>();

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
    // A URL keeps only what it says (the timeouts in its query); the socket hook goes on the transport itself.
    const transport = this.createTransport(withTimeouts(this.options.smtpUrl, this.timeoutMs));
    (transport as unknown as { transporter: { getSocket: GetSocket } }).transporter.getSocket = (options, callback) =>
      this.connect(options, callback);
    try {
      await transport.sendMail({
        from: this.options.from,
        to: this.options.to,
        subject: `${this.options.subjectPrefix} ${subject}`,
        text,
      });
    } finally {
      transport.close();
    }
  }

  close(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  /** A connected socket for nodemailer (it starts TLS on it for smtps://), reset when nodemailer ends it. */
  private connect(options: { host?: string; port?: number }, callback: SocketCallback): void {
    const socket = connect({ host: options.host ?? 'localhost', port: options.port ?? 25 });
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.end = () => socket.resetAndDestroy(); // never half-closed: see the class comment
    const refused = (error: Error) => callback(error, undefined);
    socket.once('error', refused);
    socket.once('connect', () => {
      socket.off('error', refused);
      socket.on('error', () => undefined); // nodemailer reports its own failures
      callback(null, { connection: socket });
    });
  }
}

type SocketCallback = (error: Error | null, socketOptions: { connection: Socket } | undefined) => void;
type GetSocket = (options: { host?: string; port?: number }, callback: SocketCallback) => void;

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
