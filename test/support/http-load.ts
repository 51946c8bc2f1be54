import { Worker } from 'node:worker_threads';

export interface LoadResult {
  requests: number;
  /** Responses by status code. */
  statuses: Record<number, number>;
  /** Client-side time per request, in ms, sorted. */
  latencies: number[];
  /** Responses of status 503 without a Retry-After header. */
  missingRetryAfter: number;
}

/** Runs in its own thread, so that the load's own work does not slow the app it measures. */
const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, concurrency, durationMs } = workerData;
(async () => {
  const result = { requests: 0, statuses: {}, latencies: [], missingRetryAfter: 0 };
  const stopAt = Date.now() + durationMs;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < stopAt) {
      const started = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      result.latencies.push(performance.now() - started);
      result.requests++;
      result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1;
      if (response.status === 503 && !response.headers.get('retry-after')) result.missingRetryAfter++;
    }
  }));
  result.latencies.sort((a, b) => a - b);
  parentPort.postMessage(result);
})();
`;

/** `concurrency` callers ask `url` again and again for `durationMs`, from a worker thread. */
export function httpLoad(url: string, concurrency: number, durationMs: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(LOAD, { eval: true, workerData: { url, concurrency, durationMs } });
    worker.once('message', (result: LoadResult) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}
