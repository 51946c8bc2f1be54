import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const SRC = 'libs/database-resilience/src';

interface LintResult {
  filePath: string;
  messages: Array<{ ruleId: string | null; message: string }>;
}

/**
 * The layering lint rule (eslint.layers.mjs) is live: an upward import fails the lint, at any depth and by
 * `require()` or `import()` too; a downward one passes.
 * Probe files are written into the layers' folders and linted in one ESLint run. (That the library itself holds
 * to the layers is the lint step of `npm test`.)
 */
describe('layers are enforced by the lint', () => {
  const upward: Array<[string, string, string]> = [
    ['classification', "import { AlertsService } from '../alerts/alerts.service';", 'the core'],
    ['events', "import { RetryRunner } from '../retry/retry-runner';", 'the core'],
    ['circuit-breaker', "import { DataSourceRegistry } from '../engines/data-source-registry';", 'circuit-breaker/'],
    ['engines', "import { RetryRunner } from '../retry/retry-runner';", 'engines/'],
    ['retry', "import { ErrorHistory } from '../history/error-history';", 'retry/'],
    ['history', "import { DatabaseExceptionFilter } from '../http/database-exception.filter';", 'an observer'],
    ['health', "import { DatabaseResilienceModule } from '../database-resilience.module';", 'an observer'],
    // Deeper down, and past `import` statements:
    ['engines/guard', "import { DatabaseResilienceModule } from '../../database-resilience.module';", 'engines/'],
    ['engines/mysql', "import { RetryRunner } from '../../retry/retry-runner';", 'engines/'],
    ['engines', "export const runner = require('../retry/retry-runner');", 'engines/'],
    ['history', "export const filter = import('../http/database-exception.filter');", 'an observer'],
    ['classification', "export const module = require('../database-resilience.module');", 'the core'],
  ];
  const downward: Array<[string, string]> = [
    ['retry', "import { CircuitBreaker } from '../circuit-breaker/circuit-breaker';"],
    ['history', "import { ErrorClassifier } from '../classification/error-classifier';"],
    ['http', "import { RetryRunner } from '../retry/retry-runner';"],
    ['engines/guard', "import { ErrorClassifier } from '../../classification/error-classifier';"],
    ['retry', "export const breaker = require('../circuit-breaker/circuit-breaker');"],
  ];
  let results: Map<string, string[]>;

  beforeAll(() => {
    const probes = [...upward, ...downward].map(([folder, code], i) => {
      const file = join(SRC, folder, `__layer-probe-${i}.ts`);
      mkdirSync(join(ROOT, SRC, folder), { recursive: true });
      writeFileSync(join(ROOT, file), `${code}\nvoid 0;\n`);
      return file;
    });
    try {
      let output: string;
      try {
        output = execFileSync(join(ROOT, 'node_modules/.bin/eslint'), ['--format', 'json', ...probes], {
          cwd: ROOT,
          encoding: 'utf8',
        });
      } catch (error) {
        output = (error as { stdout: string }).stdout; // exit code 1: problems found, as expected
      }
      results = new Map(
        (JSON.parse(output) as LintResult[]).map((r) => [
          r.filePath.slice(r.filePath.indexOf(SRC)),
          r.messages
            .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
            .map((m) => m.message),
        ]),
      );
    } finally {
      for (const file of probes) rmSync(join(ROOT, file));
    }
  }, 60_000);

  it.each(upward.map(([folder, code, layer], i) => [folder, code, layer, i] as const))(
    '%s: %s fails',
    (folder, _code, layer, i) => {
      expect(results.get(join(SRC, folder, `__layer-probe-${i}.ts`))).toEqual([
        expect.stringContaining(`${layer} may not import`),
      ]);
    },
  );

  it.each(downward.map(([folder, code], i) => [folder, code, i + upward.length] as const))(
    '%s: %s passes',
    (folder, _code, i) => {
      expect(results.get(join(SRC, folder, `__layer-probe-${i}.ts`))).toEqual([]);
    },
  );
});
