import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from '../scenarios/error-recipes';

const run = promisify(execFile);

/**
 * Debian's PgBouncer in transaction pooling mode in front of a PostgreSQL server (the local one by default), run as
 * the `postgres` user from a folder of its own: consecutive transactions of one client may run on different
 * server connections, and a client's backend pid is PgBouncer's own key. Trust authentication; the `options`
 * start-up parameter (a search_path) is ignored, as PgBouncer cannot keep it per client.
 */
export class PgBouncerInstance {
  private constructor(
    private readonly folder: string,
    readonly port: number,
  ) {}

  static async start(server = { host: '127.0.0.1', port: 5432 }, poolSize = 4): Promise<PgBouncerInstance> {
    const folder = mkdtempSync(join(tmpdir(), 'dr-pgbouncer-'));
    chmodSync(folder, 0o755);
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres']).toString().trim()));
    chownSync(folder, uid, gid);
    const instance = new PgBouncerInstance(folder, await closedPort());
    const file = (name: string, text: string) => {
      writeFileSync(join(folder, name), text);
      chownSync(join(folder, name), uid, gid);
    };
    file('users.txt', '"postgres" ""\n');
    file(
      'pgb.ini',
      [
        '[databases]',
        `* = host=${server.host} port=${server.port} user=postgres`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${instance.port}`,
        'auth_type = trust',
        `auth_file = ${join(folder, 'users.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${poolSize}`,
        'max_client_conn = 200',
        'ignore_startup_parameters = extra_float_digits,options',
        'unix_socket_dir =',
        `logfile = ${join(folder, 'pgb.log')}`,
        `pidfile = ${join(folder, 'pgb.pid')}`,
        '',
      ].join('\n'),
    );
    await run('runuser', ['-u', 'postgres', '--', 'pgbouncer', '-d', join(folder, 'pgb.ini')]);
    await instance.waitUntilListening();
    return instance;
  }

  async stop(): Promise<void> {
    const pidFile = join(this.folder, 'pgb.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(this.folder, { recursive: true, force: true });
  }

  private async waitUntilListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const listening = await new Promise<boolean>((resolve) => {
        const socket = connect(this.port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (listening) return;
      if (Date.now() > deadline) throw new Error('pgbouncer did not listen within 10 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
