// @ts-check
/**
 * The library's layers (docs/ARCHITECTURE.md): a folder imports only from its own layer or the layers below.
 *   core       classification, errors, events, options, context, shared-state
 *   pipeline   circuit-breaker < engines (the seam, the MySQL/MariaDB engine: the guard) < retry
 *   observers  history, deadlock, metrics, alerts, health, degradation, pool, tracing
 *   edge       http, admin, the module
 */
const SRC = 'libs/database-resilience/src';
const PIPELINE = ['circuit-breaker', 'engines', 'retry'];
const OBSERVERS = ['history', 'deadlock', 'metrics', 'alerts', 'health', 'degradation', 'pool', 'tracing'];
const EDGE = ['http', 'admin'];
const ROOT_FILES = ['index', 'database-resilience\\.module', 'database-resilience\\.module-definition'];

/**
 * The lint rules for the files of `folders`, which must not import `forbidden` folders (nor the root files), at any
 * depth (`../../retry/…` from `engines/guard/`), by `import`, `require()` or `import()`.
 */
function layer(name, folders, forbidden) {
  const folderPattern = `^(?:\\.\\./)+(?:${forbidden.join('|')})/`;
  const rootPattern = `^(?:\\.\\./)+(?:${ROOT_FILES.join('|')})(?:\\.js)?$`;
  const folderMessage = `${name} may not import a higher layer (docs/ARCHITECTURE.md).`;
  const rootMessage = `${name} may not import the module's entry points.`;
  /** `require('…')` and `import('…')` of a path the pattern matches. */
  const dynamic = (pattern, message) => [
    { selector: `CallExpression[callee.name='require'] > Literal[value=/${pattern.replaceAll('/', '\\/')}/]`, message },
    { selector: `ImportExpression > Literal.source[value=/${pattern.replaceAll('/', '\\/')}/]`, message },
  ];
  return {
    files: folders.map((folder) => `${SRC}/${folder}/**/*.ts`),
    ignores: ['**/*.spec.ts', '**/*.spec-support.ts'], // tests drive the module from outside
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: folderPattern, message: folderMessage },
            { regex: rootPattern, message: rootMessage },
          ],
        },
      ],
      'no-restricted-syntax': ['error', ...dynamic(folderPattern, folderMessage), ...dynamic(rootPattern, rootMessage)],
    },
  };
}

export const layers = [
  layer(
    'the core',
    ['classification', 'errors', 'events', 'options', 'context', 'shared-state'],
    [...PIPELINE, ...OBSERVERS, ...EDGE],
  ),
  layer('circuit-breaker/', ['circuit-breaker'], ['engines', 'retry', ...OBSERVERS, ...EDGE]),
  layer('engines/', ['engines'], ['retry', ...OBSERVERS, ...EDGE]),
  layer('retry/', ['retry'], [...OBSERVERS, ...EDGE]),
  layer('an observer', OBSERVERS, EDGE),
];
