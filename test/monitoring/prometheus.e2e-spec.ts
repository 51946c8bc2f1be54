import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { API_TEST_ENV, startApiBehindProxy, type ApiBehindProxy } from '../support/api-behind-proxy';
import { TransferTraffic } from '../support/transfer-traffic';

const MONITORING = join(__dirname, '..', '..', 'libs', 'database-resilience', 'monitoring');
const RULES = readFileSync(join(MONITORING, 'prometheus', 'db-resilience.rules.yml'), 'utf8');
const DASHBOARD = JSON.parse(readFileSync(join(MONITORING, 'grafana', 'db-resilience.dashboard.json'), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};
const ALERTS = [...RULES.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);

interface PrometheusAlert {
  labels: { alertname: string };
  state: 'pending' | 'firing';
}

/**
 * The alerting rules and the Grafana dashboard against a real Prometheus (Debian's package) scraping apps/api
 * every second while faults are provoked under traffic: every rule reaches firing, every panel's query returns
 * data. The rules' expressions are the shipped ones; only their `for:` is cut to 1 s so that the run takes a
 * minute (promtool's unit tests, test/monitoring/db-resilience.rules.test.yml, hold the real durations).
 */
describe('Prometheus rules and Grafana dashboard, on apps/api under faults', () => {
  let api: ApiBehindProxy;
  let prometheus: ChildProcess;
  let promUrl: string;
  let dir: string;
  const fired = new Set<string>();

  beforeAll(async () => {
    api = await startApiBehindProxy({
      ...API_TEST_ENV,
      RESILIENCE_HEALTH_CHECK_INTERVAL_MS: '500',
      RESILIENCE_HEALTH_CHECK_TIMEOUT_MS: '300',
      RESILIENCE_BREAKER_RECOVERY_TIMEOUT_MS: '2000',
    });
    dir = mkdtempSync(join(tmpdir(), 'dr-prometheus-'));
    writeFileSync(join(dir, 'rules.yml'), RULES.replace(/for: \w+/g, 'for: 1s'));
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'rule_files: [rules.yml]',
        'scrape_configs:',
        `  - job_name: api`,
        `    static_configs: [{ targets: ['${new URL(api.base).host}'] }]`,
      ].join('\n'),
    );
    const port = await closedPort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: 'ignore' },
    );
    await waitUntil(
      async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok === true,
      'Prometheus',
      30_000,
    );
    await waitUntil(async () => (await query('up{job="api"} == 1')).length === 1, 'the first scrape', 30_000);
  }, 120_000);

  afterAll(async () => {
    prometheus?.kill();
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<unknown[]> {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; data?: { result: unknown[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  }

  /** Polls Prometheus until each of `names` has been seen firing (a rule may stop firing once the fault ends). */
  async function firing(names: string[], timeoutMs: number): Promise<void> {
    await waitUntil(
      async () => {
        const response = await fetch(`${promUrl}/api/v1/alerts`);
        const { data } = (await response.json()) as { data: { alerts: PrometheusAlert[] } };
        for (const alert of data.alerts) if (alert.state === 'firing') fired.add(alert.labels.alertname);
        return names.every((name) => fired.has(name));
      },
      `${names.filter((n) => !fired.has(n)).join(', ')} firing`,
      timeoutMs,
    );
  }

  async function openAccounts(n: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const response = await fetch(`${api.base}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner: `prom-${i}`, balance: 1_000_000_000 }),
      });
      ids.push(((await response.json()) as { id: number }).id);
    }
    return ids;
  }

  it('every alerting rule fires, each on the fault it is about', async () => {
    expect(ALERTS).toHaveLength(7);
    const accounts = await openAccounts(3);
    // Transfers both ways over three accounts, 20 callers: real deadlocks, retried, more than 10 errors a minute.
    const traffic = new TransferTraffic(api.base, accounts, 20);
    try {
      await firing(['DatabaseDeadlockCluster', 'DatabaseErrorRateHigh'], 60_000);
      // The server refuses connections and drops the open ones: connection errors (critical), the health check
      // fails, the breaker opens, the app degrades.
      api.proxy.refuse(true);
      api.proxy.closeOpenConnections();
      await firing(
        ['DatabaseCriticalErrors', 'DatabaseHealthCheckFailing', 'DatabaseCircuitBreakerOpen', 'DatabaseDegraded'],
        60_000,
      );
      api.proxy.refuse(false);
      await waitUntil(
        async () => (await query('db_resilience_circuit_breaker_state{state="closed"} == 1')).length === 1,
        'the breaker to close',
        30_000,
      );
      // The server hangs (SIGSTOP) with 20 callers mid-request: they wait for the pool.
      api.server.pause();
      try {
        await firing(['DatabasePoolSaturated'], 30_000);
      } finally {
        api.server.resume();
      }
    } finally {
      await traffic.stop();
    }
    expect([...fired].sort()).toEqual([...ALERTS].sort());
  }, 240_000);

  it('every dashboard panel query returns data', async () => {
    const empty: string[] = [];
    for (const panel of DASHBOARD.panels) {
      for (const target of panel.targets) {
        const expr = target.expr
          .replaceAll('$__rate_interval', '1m')
          .replaceAll('$__range', '10m')
          .replaceAll('$database', '.*')
          .replaceAll('$instance', '.*');
        if ((await query(expr)).length === 0) empty.push(`${panel.title}: ${expr}`);
      }
    }
    expect(empty).toEqual([]);
    expect(DASHBOARD.panels.length).toBeGreaterThanOrEqual(12);
  });
});
