import 'reflect-metadata';
import { ResilienceService } from 'nestjs-database-resilience';
import { FAST_FAILURE_DETECTION, GaleraCluster } from '../apps/cli/src/support/galera-cluster';
import { HaproxyEndpoint } from '../apps/cli/src/support/haproxy-endpoint';
import { resilientContext } from '../apps/cli/src/support/resilient-context';
import { waitUntil } from '../apps/cli/src/support/server-target';
import { writeUntil, type WriteLedger } from '../apps/cli/src/support/writer-pair';
import type { BenchTable } from './bench-table';

const KILLS = 2;
const DEADLINE_MS = 10_000;
/** How long the writers go on after a kill. */
const AFTER_KILL_MS = 9_000;

interface KillFigures {
  /** From the kill to the first acknowledgement of a write started after it. */
  backMs: number;
  /** The longest time with no write acknowledged, from the kill on. */
  stallMs: number;
  unknown: number;
  failed: number;
  synced: boolean;
}

/** What the writers saw around one kill at `killedAt`. */
function figuresOf(ledger: WriteLedger, killedAt: number, synced: boolean): KillFigures {
  const acknowledged = ledger.written.filter(({ at }) => at > killedAt).map(({ at }) => at);
  let stallMs = 0;
  let previous = killedAt;
  for (const at of acknowledged.sort((a, b) => a - b)) {
    stallMs = Math.max(stallMs, at - previous);
    previous = at;
  }
  const startedAfter = ledger.written.filter(({ at, ms }) => at - ms >= killedAt).map(({ at }) => at);
  return {
    backMs: Math.min(...startedAfter) - killedAt,
    stallMs,
    unknown: ledger.failed.filter((f) => f.unknown).length,
    failed: ledger.failed.filter((f) => !f.unknown).length,
    synced,
  };
}

/** One cluster with `failureDetection`; node 3 killed `KILLS` times (restarted in between) under 20 writers. */
async function killsOn(failureDetection: string): Promise<KillFigures[]> {
  const cluster = await GaleraCluster.start(3, failureDetection);
  const [node1, node2, node3] = cluster.nodes;
  const endpoint = await HaproxyEndpoint.balance(cluster.nodes.map((node) => node.port));
  const env = { engine: 'mysql', host: '127.0.0.1', port: endpoint.port, username: 'root', password: '' } as const;
  const context = await resilientContext(
    { ...env, database: 'test' },
    'test',
    { healthCheck: { enabled: false }, alerts: { log: false }, retry: { maxAttempts: 5 } },
    20,
  );
  try {
    await node1.admin('CREATE TABLE test.item (id BIGINT PRIMARY KEY, via VARCHAR(20) NOT NULL)');
    const resilience = context.app.get(ResilienceService);
    const write = (id: number) =>
      resilience.transaction((manager) => manager.query('INSERT INTO item VALUES (?, ?)', [id, 'kill']), {
        deadlineMs: DEADLINE_MS,
      });
    const figures: KillFigures[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      let killedAt = Infinity;
      const load = writeUntil(write, (kill + 1) * 1_000_000, () => Date.now() > killedAt + AFTER_KILL_MS);
      await new Promise((resolve) => setTimeout(resolve, 3_000)); // steady writes on every node first
      killedAt = Date.now();
      await cluster.killNode(node3);
      const ledger = await load;
      const synced = (await node1.state()) === 'Synced' && (await node2.state()) === 'Synced';
      figures.push(figuresOf(ledger, killedAt, synced));
      await cluster.startNode(node3);
      await waitUntil(async () => (await endpoint.serverStates()).node3 === 'UP', 'HAProxy to add node3 back');
    }
    return figures;
  } finally {
    await context.close();
    await endpoint.stop();
    await cluster.destroy();
  }
}

/**
 * A Galera node killed under 20 writing callers (the module's transactions through HAProxy, round robin, its own
 * checks): how soon writes are back with Galera's default failure detection and with FAST_FAILURE_DETECTION.
 */
export async function galeraKillBench(): Promise<BenchTable> {
  const settings: Array<[string, string]> = [
    ["Galera's defaults (suspect after 5 s, keepalive every 1 s) — baseline", ''],
    ['suspect after 1 s, keepalive every 200 ms (FAST_FAILURE_DETECTION)', FAST_FAILURE_DETECTION],
  ];
  const rows: string[][] = [];
  for (const [name, detection] of settings) {
    for (const [index, f] of (await killsOn(detection)).entries()) {
      rows.push([
        name,
        String(index + 1),
        String(Math.round(f.backMs)),
        String(Math.round(f.stallMs)),
        String(f.unknown),
        String(f.failed),
        f.synced ? 'yes' : 'no',
      ]);
    }
  }
  return {
    title: 'Galera node killed under 20 writing callers through HAProxy (target: writes back within 2 s of the kill)',
    columns: [
      'failure detection',
      'kill',
      'first write started after the kill acknowledged (ms after it)',
      'longest time with no write acknowledged (ms)',
      'told outcome unknown',
      'failed otherwise',
      'survivors Primary and Synced',
    ],
    rows,
    notes: [
      `A three-node cluster of the benchmark's own for each setting (MariaDB 10.11, Debian's galera-4), reached through Debian's HAProxy (round robin, TCP check every 250 ms); 20 callers each writing one row in a transaction (\`ResilienceService.transaction\`, ${DEADLINE_MS / 1000} s deadline, forRoot()'s defaults otherwise); node 3 killed (SIGKILL) after 3 s of writes, the writers going on ${AFTER_KILL_MS / 1000} s more; then restarted, and killed again. Told outcome unknown: COMMITs in flight on the killed node.`,
    ],
  };
}
