import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntilStopped } from './process-state';
import { Client } from 'pg';
import { closedPort } from '../scenarios/error-recipes';

const BIN = '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL server of our own, from the installed binaries (run as the `postgres` user), in a temporary
 * folder on a free port: to stop, restart, freeze or kill without touching the shared server. Trust
 * authentication, user `postgres`, database `test`.
 */
export class PostgresInstance {
  private constructor(
    readonly folder: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PostgresInstance> {
    const folder = mkdtempSync(join(tmpdir(), 'dr-postgres-'));
    chmodSync(folder, 0o755);
    const { uid, gid } = idsOf('postgres');
    chownSync(folder, uid, gid);
    await asPostgres('initdb', ['-D', join(folder, 'data'), '-A', 'trust', '-U', 'postgres']);
    const instance = new PostgresInstance(folder, await closedPort());
    await instance.start();
    const admin = await instance.connect('postgres');
    await admin.query('CREATE DATABASE test');
    await admin.end();
    return instance;
  }

  /** A streaming-replication standby of this server (`pg_basebackup -R`), started on a port of its own. */
  async standby(): Promise<PostgresInstance> {
    const folder = mkdtempSync(join(tmpdir(), 'dr-postgres-'));
    chmodSync(folder, 0o755);
    const { uid, gid } = idsOf('postgres');
    chownSync(folder, uid, gid);
    await asPostgres('pg_basebackup', [
      ...['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres'],
      ...['-D', join(folder, 'data'), '-R', '-X', 'stream', '-c', 'fast'],
    ]);
    const standby = new PostgresInstance(folder, await closedPort());
    await standby.start();
    return standby;
  }

  async connect(database = 'test'): Promise<Client> {
    const client = new Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** Starts the server; resolves once it accepts connections (the event loop keeps running meanwhile). */
  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.folder} -c listen_addresses=127.0.0.1`;
    await asPostgres('pg_ctl', ['-D', this.dataDir, '-o', options, '-l', join(this.folder, 'log'), '-w', 'start']);
  }

  /** A fast shutdown: every session gets FATAL 57P01, then the server is gone. */
  async stop(): Promise<void> {
    await asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  /** Freezes the postmaster and every backend (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    this.signalAll('STOP');
  }

  resume(): void {
    this.signalAll('CONT');
  }

  async destroy(): Promise<void> {
    try {
      this.resume();
      await this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.folder, { recursive: true, force: true });
  }

  private get dataDir(): string {
    return join(this.folder, 'data');
  }

  private signalAll(signal: 'STOP' | 'CONT'): void {
    const postmaster = execFileSync('head', ['-1', join(this.dataDir, 'postmaster.pid')])
      .toString()
      .trim();
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', postmaster]).toString().split(/\s+/).filter(Boolean);
    // The children first on STOP (none may notice the postmaster gone), the postmaster first on CONT.
    const order = signal === 'STOP' ? [...children, postmaster] : [postmaster, ...children];
    for (const pid of order) {
      try {
        process.kill(Number(pid), `SIG${signal}`);
      } catch {
        // a backend that ended meanwhile
      }
    }
    if (signal === 'STOP') for (const pid of order) waitUntilStopped(Number(pid)); // before the next statement leaves
  }
}

const run = promisify(execFile);

async function asPostgres(binary: string, args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', join(BIN, binary), ...args]);
}

function idsOf(user: string): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, user]).toString().trim()));
  return { uid, gid };
}
