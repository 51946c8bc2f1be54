import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntilStopped } from './process-state';
import { createConnection } from 'mysql2/promise';
import { closedPort } from '../scenarios/error-recipes';

/** Which server binaries are installed: MariaDB's (preferred), else MySQL's. */
function installedServer(): { server: string; initialise: (dataDir: string) => void } {
  if (onPath('mariadbd') && onPath('mariadb-install-db')) {
    return {
      server: 'mariadbd',
      initialise: (dataDir) =>
        execFileSync(
          'mariadb-install-db',
          ['--user=mysql', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
          { stdio: 'pipe' },
        ),
    };
  }
  if (onPath('mysqld')) {
    // MySQL 8: root with an empty password. (Not exercised here: this machine has MariaDB only.)
    return {
      server: 'mysqld',
      initialise: (dataDir) =>
        execFileSync('mysqld', ['--no-defaults', '--initialize-insecure', '--user=mysql', `--datadir=${dataDir}`], {
          stdio: 'pipe',
        }),
    };
  }
  throw new Error('no MariaDB (mariadbd, mariadb-install-db) or MySQL (mysqld) server is installed');
}

function onPath(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A server of our own (MariaDB, else MySQL), from the installed binaries, in a temporary data directory on a
 * free port: to stop, restart or kill without touching the shared server. root, empty password, database `test`.
 */
export class MariaDbInstance {
  private process?: ChildProcess;
  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly server: string,
    /** `--server-id` and `--log-bin` when it takes part in replication. */
    private readonly serverId?: number,
  ) {}

  /** `serverId`: a binary log and this server id, to be a replication source or replica. */
  static async create(serverId?: number): Promise<MariaDbInstance> {
    const { server, initialise } = installedServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'dr-mariadb-'));
    const { uid, gid } = idsOf('mysql');
    chownSync(dataDir, uid, gid);
    initialise(dataDir);
    const instance = new MariaDbInstance(dataDir, await closedPort(), server, serverId);
    await instance.start();
    const admin = await instance.connect();
    await admin.query('CREATE DATABASE IF NOT EXISTS test');
    await admin.end();
    return instance;
  }

  connect(database?: string) {
    return createConnection({ host: '127.0.0.1', port: this.port, user: 'root', database, connectTimeout: 2000 });
  }

  async start(): Promise<void> {
    this.process = spawn(
      this.server,
      [
        '--no-defaults',
        '--user=mysql',
        `--datadir=${this.dataDir}`,
        `--port=${this.port}`,
        `--socket=${join(this.dataDir, 'mysqld.sock')}`,
        '--bind-address=127.0.0.1',
        `--pid-file=${join(this.dataDir, 'mysqld.pid')}`,
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=32M',
        '--innodb-log-file-size=16M',
        ...(this.serverId === undefined ? [] : [`--server-id=${this.serverId}`, '--log-bin']),
      ],
      { stdio: 'ignore' },
    );
    await this.waitUntil(async () => (await this.pings()) === true, 'the server to accept connections');
  }

  /** A replica of this server (its own instance, replicating from the start of this one's binary log). */
  async replica(): Promise<MariaDbInstance> {
    const replica = await MariaDbInstance.create((this.serverId ?? 1) + 1);
    const admin = await replica.connect();
    await admin.query(
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${this.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=no`,
    );
    await admin.query('START SLAVE');
    await admin.end();
    return replica;
  }

  /** Stops the server (SIGTERM) and waits until its process has exited. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void {
    if (!this.process?.pid) return;
    this.process.kill('SIGSTOP');
    waitUntilStopped(this.process.pid); // stopped before the caller's next statement leaves
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    this.resume();
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async pings(): Promise<boolean> {
    try {
      const connection = await this.connect();
      await connection.end();
      return true;
    } catch {
      return false;
    }
  }

  private async waitUntil(check: () => Promise<boolean>, what: string, deadlineMs = 30_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (!(await check())) {
      if (this.process?.exitCode !== null && this.process?.exitCode !== undefined) {
        throw new Error(`mariadbd exited with ${this.process.exitCode} while waiting for ${what}`);
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** The numeric user and group id of a system user, from /etc/passwd. */
export function idsOf(user: string): { uid: number; gid: number } {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith(`${user}:`))
    ?.split(':');
  return { uid: Number(entry?.[2]), gid: Number(entry?.[3]) };
}
