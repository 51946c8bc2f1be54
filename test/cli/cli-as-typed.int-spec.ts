import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { closedPort } from '../../apps/cli/src/scenarios/error-recipes';
import { waitUntil } from '../../apps/cli/src/support/server-target';

const root = join(__dirname, '..', '..');
const cli = join(root, 'dist', 'apps', 'cli', 'main.js');

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI, as a script runs it: `node dist/apps/cli/main.js test-error-handling ...args`. */
function start(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const child = spawn(process.execPath, [cli, 'test-error-handling', ...args], {
    cwd: options.cwd ?? root,
    env: { ...process.env, ...options.env },
  });
  const result: Finished = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => (result.stdout += chunk));
  child.stderr.on('data', (chunk) => (result.stderr += chunk));
  const finished = new Promise<Finished>((resolve) =>
    child.once('exit', (code, signal) => resolve({ ...result, code: code ?? (signal ? -1 : null) })),
  );
  return { child, result, finished };
}

/** The scratch databases a CLI process made (`dr_cli_<pid>_...`) that still exist. */
async function scratchLeft(pid: number): Promise<string[]> {
  const admin = await createConnection({ host: '127.0.0.1', port: 3306, user: 'root', password: '' });
  try {
    const [rows] = await admin.query(`SHOW DATABASES LIKE 'dr\\_cli\\_${pid}\\_%'`);
    return (rows as Array<Record<string, string>>).map((row) => Object.values(row)[0]);
  } finally {
    await admin.end();
  }
}

/** The CLI a script can trust: exit codes, JSON alone on stdout, cleanup on signals, `.env` read. */
describe('the built CLI, as a script runs it', () => {
  beforeAll(() => {
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'pipe' });
  }, 180_000);

  it('--reset-degradation exits 2 when Redis does not answer (nothing on the port, an unknown host)', async () => {
    for (const url of [`redis://127.0.0.1:${await closedPort()}`, 'redis://no-such-host.invalid:6379']) {
      const { code, stdout, stderr } = await start(['--reset-degradation'], { env: { REDIS_URL: url } }).finished;
      expect({ url, code }).toEqual({ url, code: 2 });
      expect(stderr).toContain('Redis does not answer');
      expect(stdout).not.toContain('degradation reset sent');
    }
  }, 60_000);

  it('--json prints JSON alone on stdout (log lines go to stderr)', async () => {
    const { code, stdout } = await start(['--json', '-s', 'connection']).finished;
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ passed: true, scenarios: [{ scenario: 'connection' }] });
  }, 120_000);

  it('a reader that goes away (`| head -c 1`) neither crashes the CLI nor leaves its scratch database', async () => {
    const run = start(['--json', '-s', 'connection']);
    run.child.stdout.destroy(); // the pipe's reader is gone before anything was written
    const { code } = await run.finished;
    expect(code).toBe(0);
    expect(await scratchLeft(run.child.pid!)).toEqual([]);
  }, 120_000);

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s mid-run drops the scratch database and exits %i',
    async (signal, exitCode) => {
      const run = start(['-s', 'deadlock', '--workers', '4']);
      await waitUntil(async () => /scratch database (dr_cli_\w+)/.test(run.result.stdout), 'the run to start', 60_000);
      expect(await scratchLeft(run.child.pid!)).toHaveLength(1);
      run.child.kill(signal);
      const { code, stderr } = await run.finished;
      expect(code).toBe(exitCode);
      expect(stderr).toContain(`${signal}: cleaning up`);
      expect(await scratchLeft(run.child.pid!)).toEqual([]);
    },
    120_000,
  );

  it('reads `.env` in the working directory and says so; a variable already set wins', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dr-cli-env-'));
    try {
      const port = await closedPort();
      writeFileSync(join(dir, '.env'), `DB_HOST=127.0.0.1\nDB_PORT=${port}\n`);
      const clean = { ...process.env };
      delete clean.DB_PORT;
      delete clean.DATABASE_URL;
      const child = spawn(process.execPath, [cli, 'test-error-handling', '-s', 'connection'], { cwd: dir, env: clean });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect(code).toBe(2); // nothing listens on the port .env names
      expect(stderr).toContain('read .env from the working directory');
      expect(stderr).toContain(`127.0.0.1:${port}`);
      const overridden = await start(['--json', '-s', 'classification'], { cwd: dir, env: { DB_PORT: '3306' } })
        .finished;
      expect(overridden.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a wrong password says which settings to check, not how to start a server', async () => {
    const { code, stderr } = await start(['-s', 'connection'], {
      env: { DATABASE_URL: '', DB_HOST: '127.0.0.1', DB_PORT: '3306', DB_USER: 'no_such_user_dr', DB_PASSWORD: 'x' },
    }).finished;
    expect(code).toBe(2);
    expect(stderr).toContain('check DB_USER / DB_PASSWORD');
    expect(stderr).not.toContain('docker compose');
    expect(stderr).not.toMatch(/password.?x\b/i);
  }, 60_000);

  it('an option typed without `--` is an error that names the option meant, not silently dropped', async () => {
    for (const [typed, hint] of [
      ['json', 'did you mean --json?'],
      ['stats', 'did you mean --stats?'],
      ['deadlock', 'see --help'],
    ]) {
      const { code, stdout, stderr } = await start([typed]).finished;
      expect({ typed, code }).toEqual({ typed, code: 2 });
      expect(stderr).toContain(`unexpected argument "${typed}"`);
      expect(stderr).toContain(hint);
      expect(stdout).not.toContain('scratch database'); // nothing ran
    }
  }, 60_000);

  it('--stats counts the errors the classification scenario provoked', async () => {
    const { code, stdout } = await start(['--json', '--stats', '-s', 'classification']).finished;
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    const provoked = report.scenarios[0].figures.errorsProvoked;
    expect(provoked).toBeGreaterThan(10);
    expect(report.statistics.window.errors).toBe(provoked);
    expect(report.statistics.window.byCategory.deadlock).toBe(1);
  }, 120_000);
});
