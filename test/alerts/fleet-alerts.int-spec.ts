import { createConnection, type Connection } from 'mysql2/promise';
import { AlertsService } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import type { ServerTarget } from '../../apps/cli/src/support/server-target';
import { deadlockOnce } from '../support/mysql-deadlock';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';
import { SmtpSink } from '../support/smtp-sink';

const INSTANCES = 3;

/**
 * Three instances of an app on one Redis and one MariaDB, each meeting the same deadlock cluster at about the
 * same time: one e-mail for the fleet, naming the instance that sent it and counting the others' occurrences.
 */
describe('alerts once per incident across the fleet (Redis)', () => {
  let scratch: ServerTarget & { restoreEnv(): Promise<void> };
  let smtp: SmtpSink;
  const apps: ResilientApp[] = [];
  const sides: Connection[] = [];

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_fleet');
    smtp = await new SmtpSink().start();
    const keyPrefix = `dr-fleet-${process.pid}-${Date.now()}`;
    for (let i = 1; i <= INSTANCES; i++) {
      apps.push(
        await resilientApp({
          database: scratch.database,
          options: {
            instanceId: `api-${i}`,
            healthCheck: { enabled: false },
            sharedState: { store: { type: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix } },
            deadlocks: { clusterThreshold: 1, clusterWindowMs: 60_000, serverReport: false },
            alerts: {
              log: false,
              minSeverity: 'critical',
              cooldownMs: 60_000,
              fleetGatherMs: 2000,
              email: { smtpUrl: smtp.url, from: 'db@example.com', to: ['ops@example.com'] },
            },
          },
        }),
      );
      const side = await createConnection({ host: '127.0.0.1', user: 'root', database: scratch.database });
      await side.query(`CREATE TABLE accounts_${i} (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB`);
      await side.query(`INSERT INTO accounts_${i} VALUES (1, 100), (2, 100), (3, 100)`);
      sides.push(side);
    }
  }, 60_000);

  afterAll(async () => {
    for (const side of sides) await side.end();
    for (const app of apps) await app.close();
    await smtp?.stop();
    await scratch?.restoreEnv();
  });

  it('a deadlock cluster met by three instances sends one e-mail, naming its sender, the others counted', async () => {
    // Two deadlocks on each instance (threshold 1): each instance sees its own deadlock cluster.
    await Promise.all(
      apps.map(async (app, i) => {
        await deadlockOnce(app.resilience, sides[i], `accounts_${i + 1}`);
        await deadlockOnce(app.resilience, sides[i], `accounts_${i + 1}`);
      }),
    );
    for (const app of apps) await app.module.get(AlertsService).flush();
    await waitUntil(async () => smtp.messages.length >= 1, 'the alert mail', 10_000);
    const clusterMails = smtp.messages.filter((m) => /Deadlock cluster/.test(m.subject ?? ''));
    expect(clusterMails).toHaveLength(1);
    const [mail] = clusterMails;
    expect(mail.text).toMatch(/^Instance: api-[123]$/m);
    expect(mail.text).toContain('Occurrences held back since the last mail (all instances sharing the store): 2');
    // Every instance met it; one sent it.
    const raised = apps.map((app) => app.events.filter((e) => e.type === 'deadlock-cluster').length);
    expect(raised.every((n) => n >= 1)).toBe(true);
    const sent = apps.map(
      (app) => app.events.filter((e) => e.type === 'alert-raised' && e.rule === 'deadlock-cluster').length,
    );
    expect(sent.reduce((a, b) => a + b, 0)).toBe(1);
  }, 60_000);
});
