import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from '../scenarios/error-recipes';

const run = promisify(execFile);

/**
 * Debian's HAProxy as a cluster's writer endpoint, in TCP mode: the old writer as its server, the new one as its
 * backup. `retarget()` puts the old one in maintenance through the admin socket, as an orchestrator does at a
 * failover: new connections go to the new writer, open ones stay where they are.
 */
export class HaproxyEndpoint {
  private constructor(
    private readonly folder: string,
    readonly port: number,
  ) {}

  static start(oldPort: number, newPort: number): Promise<HaproxyEndpoint> {
    return HaproxyEndpoint.withBackend([
      `  server old 127.0.0.1:${oldPort}`,
      `  server new 127.0.0.1:${newPort} backup`,
    ]);
  }

  /**
   * The old writer as the server and the new one as its backup, both under HAProxy's own TCP check (every 250 ms;
   * out after 2 failures, back after 2 successes): new connections go to the backup only while the old one is
   * down, and to the old one again once it answers.
   */
  static checked(oldPort: number, newPort: number): Promise<HaproxyEndpoint> {
    return HaproxyEndpoint.withBackend([
      '  default-server check inter 250 fall 2 rise 2',
      `  server old 127.0.0.1:${oldPort}`,
      `  server new 127.0.0.1:${newPort} backup`,
    ]);
  }

  /**
   * Every node of a multi-primary cluster (Galera) behind one address, new connections in turn (round robin), each
   * node under HAProxy's own TCP check (every 250 ms; out after 2 failures, back after 2 successes): a node that
   * is down is taken out, one that answers again is added back. Servers are named `node1`, `node2`...
   */
  static balance(ports: number[]): Promise<HaproxyEndpoint> {
    return HaproxyEndpoint.withBackend([
      '  balance roundrobin',
      '  default-server check inter 250 fall 2 rise 2',
      ...ports.map((port, index) => `  server node${index + 1} 127.0.0.1:${port}`),
    ]);
  }

  private static async withBackend(backend: string[]): Promise<HaproxyEndpoint> {
    const folder = mkdtempSync(join(tmpdir(), 'dr-haproxy-'));
    const endpoint = new HaproxyEndpoint(folder, await closedPort());
    writeFileSync(
      join(folder, 'haproxy.cfg'),
      [
        'global',
        `  stats socket ${join(folder, 'admin.sock')} level admin`,
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        // A connection to a server that went away is retried (after HAProxy's 1 s turn-around) on another one,
        // instead of three times on the same and then closed.
        '  option redispatch',
        '  timeout client 120s',
        '  timeout server 120s',
        'frontend writer',
        `  bind 127.0.0.1:${endpoint.port}`,
        '  default_backend writers',
        'backend writers',
        ...backend,
        '',
      ].join('\n'),
    );
    await run('haproxy', ['-f', join(folder, 'haproxy.cfg'), '-D', '-p', join(folder, 'haproxy.pid')]);
    return endpoint;
  }

  /** Each server's state as HAProxy's checks see it (`UP`, `DOWN`, `MAINT`...), by name. */
  async serverStates(): Promise<Record<string, string>> {
    const csv = await this.command('show stat');
    const states: Record<string, string> = {};
    for (const line of csv.split('\n')) {
      const [proxy, server, ...fields] = line.split(',');
      if (proxy === 'writers' && server !== 'BACKEND' && server !== 'FRONTEND') states[server] = fields[15];
    }
    return states;
  }

  /** New connections go to the `to` writer from now on (the other in maintenance). */
  async retarget(to: 'old' | 'new' = 'new'): Promise<void> {
    await this.command(`enable server writers/${to}`);
    await this.command(`disable server writers/${to === 'new' ? 'old' : 'new'}`);
  }

  async stop(): Promise<void> {
    try {
      process.kill(Number(readFileSync(join(this.folder, 'haproxy.pid'), 'utf8').trim()), 'SIGTERM');
    } catch {
      // not running
    }
    rmSync(this.folder, { recursive: true, force: true });
  }

  /** One command on the admin socket; resolves with HAProxy's answer. */
  private command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(join(this.folder, 'admin.sock'));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
      socket.write(`${line}\n`);
    });
  }
}
