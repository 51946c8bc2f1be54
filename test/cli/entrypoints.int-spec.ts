import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(__dirname, '..', '..');

/** The CLI as people start it: through npm (README's main job) and through the Nest CLI, exactly as typed. */
describe('cli entry points', () => {
  it('`npm run cli -- test-error-handling` builds and runs the scenarios given', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '-s', 'cli', '--', 'test-error-handling', '-s', 'connection', '--json'],
      {
        cwd: root,
      },
    );
    const report = JSON.parse(stdout); // JSON alone on stdout
    expect(report).toMatchObject({ passed: true, scenarios: [{ scenario: 'connection', passed: true }] });
  }, 180_000);

  it('`nest start cli test-error-handling`, as typed, runs every scenario', async () => {
    const { stdout } = await run('npx', ['nest', 'start', 'cli', 'test-error-handling'], {
      cwd: root,
      maxBuffer: 10 * 2 ** 20,
    });
    for (const scenario of ['connection', 'deadlock', 'timeout', 'circuit-breaker', 'classification']) {
      expect(stdout).toContain(`PASS ${scenario} in`);
    }
    expect(stdout).toContain('PASS: 5/5 scenarios passed');
  }, 180_000);
});
