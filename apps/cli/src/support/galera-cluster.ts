import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { closedPort } from '../scenarios/error-recipes';
import { idsOf } from './mariadb-instance';

const PROVIDER = '/usr/lib/galera/libgalera_smm.so';
/**
 * Galera's failure detection, shortened: a node that dies without leaving stalls every commit of the cluster until
 * the others suspect it (`evs.suspect_timeout`, 5 s by default). Suspected after 1 s of silence, with keepalives
 * and checks every 200 ms so that a busy node is not taken for a dead one (`npm run bench:galera` measures both).
 */
export const FAST_FAILURE_DETECTION =
  'evs.suspect_timeout=PT1S;evs.inactive_timeout=PT3S;evs.keepalive_period=PT0.2S;' +
  'evs.inactive_check_period=PT0.2S;evs.join_retrans_period=PT0.2S';

/** One node of the cluster: its SQL port, its Galera ports (group, IST, SST) and its process. */
export class GaleraNode {
  process?: ChildProcess;
  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly port: number,
    /** Galera's group communication port; IST listens on +1, the state transfer on +2. */
    readonly galeraPort: number,
  ) {}

  connect(database = 'test') {
    return createConnection({ host: '127.0.0.1', port: this.port, user: 'root', database, connectTimeout: 2000 });
  }

  /** `wsrep_local_state_comment` (Synced, Donor/Desynced, ...), or null when the node does not answer. */
  async state(): Promise<string | null> {
    try {
      const connection = await this.connect('mysql');
      try {
        const [rows] = await connection.query("SHOW STATUS LIKE 'wsrep_local_state_comment'");
        return String((rows as Array<{ Value: string }>)[0]?.Value ?? '');
      } finally {
        await connection.end();
      }
    } catch {
      return null;
    }
  }

  /** Runs one statement as root on this node. */
  async admin(sql: string): Promise<void> {
    const connection = await this.connect('mysql');
    try {
      await connection.query(sql);
    } finally {
      await connection.end();
    }
  }
}

/**
 * A three-node Galera cluster (MariaDB with Debian's galera-4) on loopback ports, in temporary data directories:
 * node 1 bootstraps, nodes 2 and 3 join by state transfer (rsync). root with an empty password, database `test`.
 * Nodes are stopped, killed or isolated by the tests; `destroy()` stops every process by its pid.
 */
export class GaleraCluster {
  private constructor(
    readonly nodes: GaleraNode[],
    private readonly root: string,
    private readonly failureDetection: string,
  ) {}

  /** `failureDetection`: `evs.*` provider options (`''`: Galera's defaults). */
  static async start(size = 3, failureDetection = FAST_FAILURE_DETECTION): Promise<GaleraCluster> {
    const root = mkdtempSync(join(tmpdir(), 'dr-galera-'));
    const { uid, gid } = idsOf('mysql');
    chownSync(root, uid, gid);
    const nodes: GaleraNode[] = [];
    for (let n = 1; n <= size; n++) {
      const dataDir = join(root, `n${n}`);
      mkdirSync(dataDir);
      chownSync(dataDir, uid, gid);
      nodes.push(new GaleraNode(`node${n}`, dataDir, await closedPort(), await freePortRun(3)));
    }
    const cluster = new GaleraCluster(nodes, root, failureDetection);
    try {
      execFileSync(
        'mariadb-install-db',
        ['--user=mysql', `--datadir=${nodes[0].dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
        { stdio: 'pipe' },
      );
      await cluster.startNode(nodes[0], true);
      await nodes[0].admin('CREATE DATABASE IF NOT EXISTS test');
      for (const node of nodes.slice(1)) await cluster.startNode(node);
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  /** Starts a node (again) and waits until it says Synced. `bootstrap`: a new cluster (node 1, once). */
  async startNode(node: GaleraNode, bootstrap = false): Promise<void> {
    const addresses = this.nodes.map((other) => `127.0.0.1:${other.galeraPort}`).join(',');
    const g = node.galeraPort;
    const providerOptions = [
      `base_port=${g}`,
      `ist.recv_addr=127.0.0.1:${g + 1}`,
      'gcache.size=32M',
      this.failureDetection,
    ]
      .filter(Boolean)
      .join(';');
    node.process = spawn(
      'mariadbd',
      [
        '--no-defaults',
        '--user=mysql',
        `--datadir=${node.dataDir}`,
        `--port=${node.port}`,
        `--socket=${join(node.dataDir, 's.sock')}`,
        `--pid-file=${join(node.dataDir, 'm.pid')}`,
        `--log-error=${join(node.dataDir, 'err.log')}`,
        '--bind-address=127.0.0.1',
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=32M',
        '--innodb-log-file-size=16M',
        '--binlog_format=ROW',
        '--default_storage_engine=InnoDB',
        '--innodb_autoinc_lock_mode=2',
        '--wsrep_on=ON',
        `--wsrep_provider=${PROVIDER}`,
        '--wsrep_cluster_name=dr-test',
        `--wsrep_cluster_address=gcomm://${addresses}`,
        `--wsrep_node_name=${node.name}`,
        `--wsrep_node_address=127.0.0.1:${g}`,
        `--wsrep_provider_options=${providerOptions}`,
        `--wsrep_sst_receive_address=127.0.0.1:${g + 2}`,
        '--wsrep_sst_method=rsync',
        ...(bootstrap ? ['--wsrep-new-cluster'] : []),
      ],
      { stdio: 'ignore' },
    );
    await this.waitUntil(node, async () => (await node.state()) === 'Synced', `${node.name} to be Synced`);
  }

  /** Stops a node cleanly (SIGTERM): it leaves the cluster. */
  async stopNode(node: GaleraNode): Promise<void> {
    await this.signal(node, 'SIGTERM');
  }

  /** Kills a node (SIGKILL): its connections are cut, the others notice after the group's timeouts. */
  async killNode(node: GaleraNode): Promise<void> {
    await this.signal(node, 'SIGKILL');
  }

  /** Cuts a node off the group (`gmcast.isolate`): it leaves the primary component and refuses with 1047. */
  async isolate(node: GaleraNode, isolated = true): Promise<void> {
    await node.admin(`SET GLOBAL wsrep_provider_options='gmcast.isolate=${isolated ? 1 : 0}'`);
  }

  async destroy(): Promise<void> {
    for (const node of [...this.nodes].reverse()) await this.signal(node, 'SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }

  private async signal(node: GaleraNode, signal: NodeJS.Signals): Promise<void> {
    const child = node.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  private async waitUntil(node: GaleraNode, check: () => Promise<boolean>, what: string, deadlineMs = 90_000) {
    const deadline = Date.now() + deadlineMs;
    while (!(await check())) {
      const exitCode = node.process?.exitCode;
      if (exitCode !== null && exitCode !== undefined) {
        throw new Error(`${node.name} exited with ${exitCode} while waiting for ${what}: ${this.logTail(node)}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${this.logTail(node)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private logTail(node: GaleraNode): string {
    try {
      return readFileSync(join(node.dataDir, 'err.log'), 'utf8').split('\n').slice(-8).join('\n');
    } catch {
      return '(no error log)';
    }
  }
}

/** The first of `count` consecutive free loopback ports (Galera takes base, base+1 and base+2). */
async function freePortRun(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no run of free ports for Galera');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
