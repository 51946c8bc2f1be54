import { Worker } from 'node:worker_threads';

/** One request of the load, as the client saw it. */
export interface LoadRecord {
  kind: 'transfer' | 'read';
  /** The transfer's Idempotency-Key. */
  key?: string;
  status: number;
  /** ms since the epoch. */
  startedAt: number;
  ms: number;
  /** The error code of a failed answer (DATABASE_TIMEOUT...), or the network error. */
  code?: string;
}

export interface LoadSettings {
  baseUrl: string;
  /** Starts every Idempotency-Key of this load: two loads never share a key. */
  name: string;
  workers: number;
  accounts: number[];
  /** Share of transfers among the requests (the rest read one account). */
  transferShare: number;
}

/** In its own thread, so that the load does not share the api's event loop. Stopped by a message. */
const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { baseUrl, name, workers, accounts, transferShare } = workerData;
let running = true;
let finished;
parentPort.on('message', (m) => {
  if (m === 'stop') running = false;
  if (m === 'collect') finished.then(() => parentPort.postMessage({ records }));
});
const records = [];
const pick = () => accounts[Math.floor(Math.random() * accounts.length)];
async function one(worker, seq) {
  const startedAt = Date.now();
  const started = performance.now();
  const transfer = Math.random() < transferShare;
  const record = { kind: transfer ? 'transfer' : 'read', startedAt, status: 0 };
  try {
    let response;
    if (transfer) {
      const fromId = pick();
      let toId = pick();
      while (toId === fromId) toId = pick();
      record.key = name + '-' + worker + '-' + seq;
      response = await fetch(baseUrl + '/transfers', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': record.key },
        body: JSON.stringify({ fromId, toId, amount: 1 + Math.floor(Math.random() * 5) }),
        signal: AbortSignal.timeout(60000),
      });
    } else {
      response = await fetch(baseUrl + '/accounts/' + pick(), { signal: AbortSignal.timeout(60000) });
    }
    record.status = response.status;
    const text = await response.text();
    if (response.status >= 400) {
      try { record.code = JSON.parse(text).code; } catch { record.code = 'non-json'; }
    }
  } catch (error) {
    record.code = String(error && error.name);
  }
  record.ms = performance.now() - started;
  records.push(record);
}
finished = Promise.all(Array.from({ length: workers }, async (_, worker) => {
  for (let seq = 0; running; seq++) await one(worker, seq);
})).then(() => parentPort.postMessage('stopped'));
`;

export interface Load {
  /** Ends the requests; the records stay in the load's thread (out of the heap the run measures). */
  stop(): Promise<void>;
  /** Every request's record; ends the thread. */
  collect(): Promise<LoadRecord[]>;
}

export function startLoad(settings: LoadSettings): Load {
  const worker = new Worker(LOAD, { eval: true, workerData: settings });
  const failed = new Promise<never>((_, reject) => worker.once('error', reject));
  const next = <T>() =>
    Promise.race([new Promise<T>((resolve) => worker.once('message', (message: T) => resolve(message))), failed]);
  let stopped: Promise<unknown> | undefined;
  return {
    stop() {
      stopped ??= (worker.postMessage('stop'), next<'stopped'>());
      return stopped.then(() => undefined);
    },
    async collect() {
      await this.stop();
      worker.postMessage('collect');
      const { records } = await next<{ records: LoadRecord[] }>();
      await worker.terminate();
      return records;
    },
  };
}
