import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  CircuitBreakerRegistry,
  DatabaseResilienceModule,
  DegradationService,
  ResilienceService,
} from 'nestjs-database-resilience';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { chromium, type Browser } from 'playwright-core';
import { useScratchDatabase } from '../support/scratch-database';

const TOKEN = 'dashboard-token-0123456789';
const OUTPUT = join(__dirname, '..', '..', 'test-output');

/** The dashboard in Debian's Chromium, headless, driven by playwright-core, against an app on loopback. */
describe('admin dashboard in a real browser (Chromium)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let app: INestApplication;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    scratch = await useScratchDatabase('dr_e2e_dashboard');
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'mysql',
          host: '127.0.0.1',
          username: 'root',
          database: scratch.database,
          retryAttempts: 0,
        }),
        DatabaseResilienceModule.forRoot({
          admin: { token: TOKEN, refreshIntervalMs: 1000 },
          healthCheck: { intervalMs: 1000, timeoutMs: 500 },
          alerts: { log: false },
        }),
      ],
    })
    class DashboardTestModule {}
    const moduleRef = await Test.createTestingModule({ imports: [DashboardTestModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/database-errors`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await scratch?.restoreEnv();
  });

  it('logs in, shows a breaker forced open, resets degradation from the page; readable at 1280 px and at phone width', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    // 401s before the login are the page finding out it must ask for the token; anything else is a problem
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 401/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));

    await page.goto(base);
    await page.locator('#login form').waitFor({ state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await page.locator('#content').waitFor({ state: 'visible' });
    await page.locator('#health [data-database="default"]').waitFor();

    app.get(CircuitBreakerRegistry).forceOpen('default');
    const row = page.locator('[data-breaker="default"]');
    await row.locator('td', { hasText: 'open (forced)' }).waitFor({ timeout: 10_000 });
    await page.locator('#banner').waitFor({ state: 'visible' });
    expect(await page.locator('#banner').textContent()).toMatch(/Degraded: the circuit breaker of "default" is open/);
    await page.screenshot({ path: join(OUTPUT, 'dashboard-degraded.png'), fullPage: true });

    await page.click('#reset-degradation');
    await page.locator('#banner').waitFor({ state: 'hidden', timeout: 10_000 });
    expect(app.get(DegradationService).state().degraded).toBe(false);

    await row.locator('button[data-reset="default"]').click();
    await row.locator('td.closed').waitFor({ timeout: 10_000 });
    expect(app.get(CircuitBreakerRegistry).get('default').state).toBe('closed');
    // The timeline: the breaker opened, then closed, newest first.
    const timeline = page.locator('#timeline');
    await timeline.locator('li', { hasText: 'breaker of default closed' }).waitFor({ timeout: 10_000 });
    expect(await timeline.locator('li').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('breaker of default open')]),
    );

    // Incidents: three identical failures are one row with their count; the filter narrows it.
    const resilience = app.get(ResilienceService);
    const dataSource = app.get<DataSource>(getDataSourceToken());
    for (let i = 0; i < 3; i++) {
      await resilience
        .execute(() => dataSource.query('SELECT * FROM no_such_table_dashboard'), { operation: 'report' })
        .catch(() => undefined);
    }
    const incidents = page.locator('#incidents tbody tr');
    await incidents.filter({ hasText: 'ER_NO_SUCH_TABLE' }).waitFor({ timeout: 10_000 });
    const groupRow = incidents.filter({ hasText: 'ER_NO_SUCH_TABLE' });
    expect(await groupRow.locator('td').first().textContent()).toBe('3');
    await page.selectOption('#incident-filter select[name=severity]', 'critical');
    await incidents.filter({ hasText: 'no failures match' }).waitFor({ timeout: 10_000 });
    await page.selectOption('#incident-filter select[name=severity]', '');
    await incidents.filter({ hasText: 'ER_NO_SUCH_TABLE' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#refresh');
    // a string, evaluated in the page: this file is compiled without the DOM's types
    await page.screenshot({ path: join(OUTPUT, 'dashboard-phone.png'), fullPage: true });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0); // no sideways scrolling of the page itself

    expect(problems).toEqual([]); // no CSP violation, no script error
    await context.close();
  }, 60_000);
});
