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

  static async start(oldPort: number, newPort: number): Promise<HaproxyEndpoint> {
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
        '  timeout client 120s',
        '  timeout server 120s',
        'frontend writer',
        `  bind 127.0.0.1:${endpoint.port}`,
        '  default_backend writers',
        'backend writers',
        `  server old 127.0.0.1:${oldPort}`,
        `  server new 127.0.0.1:${newPort} backup`,
        '',
      ].join('\n'),
    );
    await run('haproxy', ['-f', join(folder, 'haproxy.cfg'), '-D', '-p', join(folder, 'haproxy.pid')]);
    return endpoint;
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
