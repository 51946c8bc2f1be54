import { Logger } from '@nestjs/common';
import { AlertsService, HealthReportService, ResilienceService } from 'nestjs-database-resilience';
import { createConnection } from 'mysql2/promise';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { SmtpSink } from '../support/smtp-sink';

/** A real connection failure: a critical error, with a secret in its message as some libraries write it. */
async function failToConnect(resilience: ResilienceService): Promise<unknown> {
  const port = await closedPort();
  return resilience
    .execute(
      async () => {
        try {
          return await createConnection({ host: '127.0.0.1', port, user: 'root' });
        } catch (error) {
          (error as Error).message += ` (mysql://app:hunter2-secret@127.0.0.1:${port}/shop)`;
          throw error;
        }
      },
      { operation: 'connect' },
    )
    .catch((e: unknown) => e);
}

describe('e-mail alerts through a real SMTP server', () => {
  let smtp: SmtpSink;
  let app: ResilientApp;

  beforeAll(async () => {
    smtp = await new SmtpSink().start();
    app = await resilientApp({
      database: 'test',
      options: {
        alerts: {
          log: false,
          cooldownMs: 60_000,
          email: { smtpUrl: smtp.url, from: 'db@example.com', to: ['ops@example.com'], subjectPrefix: '[shop-db]' },
        },
      },
    });
  });

  afterAll(async () => {
    await app?.close();
    await smtp?.stop();
  });

  it('mails a critical error once per cooldown, redacted, with the prefix', async () => {
    await failToConnect(app.resilience);
    await failToConnect(app.resilience);
    await failToConnect(app.resilience);
    await app.module.get(AlertsService).flush();
    await waitUntil(async () => smtp.messages.length >= 1, 'the alert mail');
    expect(smtp.messages).toHaveLength(1); // the other two were rate-limited
    const [mail] = smtp.messages;
    expect(mail.subject).toBe('[shop-db] critical database error on "default": connection (ECONNREFUSED)');
    expect(mail.from?.text).toBe('db@example.com');
    expect(mail.to && 'text' in mail.to ? mail.to.text : '').toBe('ops@example.com');
    expect(mail.text).toContain('Recommended action: circuit_break');
    expect(mail.text).toContain('mysql://app:***@127.0.0.1');
    expect(`${mail.subject}\n${mail.text}`).not.toContain('hunter2');
  });
});

describe('the e-mailed health report', () => {
  it('mails a summary per database', async () => {
    const smtp = await new SmtpSink().start();
    const app = await resilientApp({
      database: 'test',
      options: {
        alerts: { log: false, email: { smtpUrl: smtp.url, from: 'db@example.com', to: ['ops@example.com'] } },
        reports: { email: true, intervalMs: 3_600_000 },
      },
    });
    try {
      await failToConnect(app.resilience);
      await app.module.get(HealthReportService).report();
      await waitUntil(
        async () => smtp.messages.some((m) => m.subject?.endsWith('Database health report')),
        'the digest',
      );
      const digest = smtp.messages.find((m) => m.subject === '[db-resilience] Database health report');
      expect(digest?.text).toMatch(/^default: 1 errors in the last 60 min \(connection 1\); no retries/m);
    } finally {
      await app.close();
      await smtp.stop();
    }
  });
});

describe('e-mail alerts with the SMTP server down', () => {
  it('the request still ends at once with its own error, and the failure is logged', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const app = await resilientApp({
      database: 'test',
      options: {
        alerts: {
          log: false,
          channelTimeoutMs: 2000,
          email: { smtpUrl: `smtp://127.0.0.1:${await closedPort()}`, from: 'db@example.com', to: ['ops@example.com'] },
        },
      },
    });
    try {
      const error = await failToConnect(app.resilience);
      expect((error as { code?: string }).code).toBe('ECONNREFUSED');
      await app.module.get(AlertsService).flush();
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/Alert channel email failed for severe-error: .*ECONNREFUSED/),
      );
      expect(warn.mock.calls.flat().join('\n')).not.toContain('hunter2');
    } finally {
      warn.mockRestore();
      await app.close();
    }
  });
});
