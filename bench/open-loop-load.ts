import { Worker } from 'node:worker_threads';

/** What an open-loop load saw: each answer's status and client-side time (ms), in the order sent. */
export interface OpenLoopResult {
  sent: number;
  answers: Array<{ status: number; ms: number }>;
  /** From the first request to the last answer, ms. */
  wallMs: number;
}

/** Runs in its own thread, so that sending and timing do not take the app's event loop. */
const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('node:http');
const { url, ratePerSecond, durationMs } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const answers = [];
let sent = 0;
const started = performance.now();
const pending = [];
const one = () => new Promise((resolve) => {
  const at = performance.now();
  const req = request(url, { agent }, (res) => {
    res.resume();
    res.on('end', () => { answers.push({ status: res.statusCode, ms: performance.now() - at }); resolve(); });
  });
  req.on('error', () => { answers.push({ status: 0, ms: performance.now() - at }); resolve(); });
  req.end();
});
// Requests leave on a schedule (every tick sends those due by now), whatever the answers: an open loop, as users
// arriving; a closed loop would slow down with the server and never offer more than it serves.
const timer = setInterval(() => {
  const due = Math.min(Math.floor(((performance.now() - started) * ratePerSecond) / 1000), Math.floor((durationMs * ratePerSecond) / 1000));
  while (sent < due) { sent++; pending.push(one()); }
  if (performance.now() - started >= durationMs) {
    clearInterval(timer);
    Promise.all(pending).then(() => { agent.destroy(); parentPort.postMessage({ sent, answers, wallMs: performance.now() - started }); });
  }
}, 2);
`;

/** `ratePerSecond` requests a second to `url` for `durationMs`, from a worker thread, each answer awaited. */
export function openLoopLoad(url: string, ratePerSecond: number, durationMs: number): Promise<OpenLoopResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD, { eval: true, workerData: { url, ratePerSecond, durationMs } });
    worker.once('message', (result: OpenLoopResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** The q-quantile (0–1) of values (sorted here); NaN when there are none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
