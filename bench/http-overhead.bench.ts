import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import type { BenchTable } from './bench-table';
import { BENCH_POOL_SIZE, type HttpAppMessage, type HttpAppVariant } from './http-app';

const CONNECTIONS = BENCH_POOL_SIZE;
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 40);
const WARM_UP_SECONDS = 5;

interface AppProcess {
  name: string;
  child: ChildProcess;
  url: string;
}

interface Visit {
  requests: number;
  requestsPerSecond: number;
  latencyMs: number;
  cpuPerRequestUs: number;
  failed: number;
}

function nextMessage(child: ChildProcess): Promise<HttpAppMessage> {
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as HttpAppMessage));
    child.once('exit', (code) => reject(new Error(`HTTP benchmark app exited (${code})`)));
  });
}

async function start(name: string, variant: HttpAppVariant): Promise<AppProcess> {
  const child = fork(join(__dirname, 'http-app.js'), [variant], { stdio: 'inherit' });
  const { port } = (await nextMessage(child)) as { port: number };
  return { name, child, url: `http://127.0.0.1:${port}/ping` };
}

async function cpuUs(app: AppProcess): Promise<number> {
  const reply = nextMessage(app.child);
  app.child.send('cpu');
  return ((await reply) as { cpuUs: number }).cpuUs;
}

/** One visit: autocannon against one app; the app process's own CPU time per request answered. */
async function visit(app: AppProcess, seconds: number): Promise<Visit> {
  const cpuBefore = await cpuUs(app);
  const result = await autocannon({ url: app.url, connections: CONNECTIONS, duration: seconds });
  const cpu = (await cpuUs(app)) - cpuBefore;
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    latencyMs: result.latency.average,
    cpuPerRequestUs: cpu / result.requests.total,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const median = (values: number[]) => {
  const s = sorted(values);
  const middle = s.length / 2;
  return s.length % 2 ? s[Math.floor(middle)] : (s[middle - 1] + s[middle]) / 2;
};

/** A distribution-free 95 % interval for the median: the order statistics around it (normal approximation). */
function medianInterval(values: number[]): [number, number] {
  const s = sorted(values);
  const k = Math.max(0, Math.floor((s.length - 1.96 * Math.sqrt(s.length)) / 2));
  return [s[k], s[s.length - 1 - k]];
}

const percent = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;

/**
 * What the module adds to a request that runs one `SELECT 1` on loopback. Each app runs in a process of its
 * own; each round visits the three in turn (the order turning), and the overhead is the median over the rounds
 * of the per-round ratio, so that the drift of this 2-core machine (which also runs MariaDB and autocannon)
 * falls on all. With the 95 % interval of that median.
 */
export async function httpOverheadBench(): Promise<BenchTable> {
  const apps = [
    await start('the same app without the module (baseline)', 'without'),
    await start('with DatabaseResilienceModule.forRoot()', 'with'),
    await start('with forRoot({ requestContext: true })', 'with request context'),
  ];
  try {
    for (const app of apps) await visit(app, WARM_UP_SECONDS); // JIT, pools filled
    const visits = apps.map(() => [] as Visit[]);
    for (let round = 0; round < ROUNDS; round++)
      for (let k = 0; k < apps.length; k++) {
        const i = (round + k) % apps.length;
        visits[i][round] = await visit(apps[i], SECONDS);
      }
    const over = (i: number, of: (v: Visit) => number) =>
      visits[i].map((v, round) => (of(v) / of(visits[0][round]) - 1) * 100);
    const rows = apps.map((app, i) => {
      const list = visits[i];
      const cpuOver = over(i, (v) => v.cpuPerRequestUs);
      const latencyOver = over(i, (v) => v.latencyMs);
      const [low, high] = medianInterval(cpuOver);
      return [
        app.name,
        median(list.map((v) => v.requestsPerSecond)).toFixed(0),
        `${median(list.map((v) => v.latencyMs)).toFixed(2)} ms`,
        `${median(list.map((v) => v.cpuPerRequestUs)).toFixed(0)} µs`,
        String(list.reduce((sum, v) => sum + v.failed, 0)),
        i === 0 ? '—' : `${percent(median(cpuOver))} (${percent(low)} … ${percent(high)})`,
        i === 0 ? '—' : percent(median(latencyOver)),
      ];
    });
    return {
      title: `HTTP request running one SELECT 1 (autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s per app)`,
      columns: [
        'app',
        'requests/s (median)',
        'mean latency (median)',
        'app CPU per request (median)',
        'failed',
        'CPU per request over the baseline: median of rounds (95 % interval)',
        'mean latency over the baseline (median of rounds)',
      ],
      rows,
      notes: [
        'Each app in a process of its own on the local MariaDB (pool of 10), autocannon in the benchmark process; ' +
          `after ${WARM_UP_SECONDS} s of warm-up each. Target for forRoot(): under 5 %. The CPU figure (the app's process ` +
          'only, per request answered) is the steadier one: latency on this 2-core VM also moves with MariaDB and ' +
          'autocannon, which share the cores.',
        '`requestContext: true` adds a middleware that runs each request inside AsyncLocalStorage (request id, route, ' +
          'request deadline); on Node 20 that makes every promise of the request dearer, hence it is off by default.',
      ],
    };
  } finally {
    for (const app of apps) app.child.disconnect();
  }
}
