// One jest setup for unit and integration specs: ts-jest for our TypeScript, SWC to turn the ESM-only
// Nest packages into CommonJS (see ../shared/reference/nest-stack.md).
const esmPackages = [
  '@nestjs',
  'uid',
  'load-esm',
  'file-type',
  '@standard-schema',
  'strtok3',
  'token-types',
  '@tokenizer',
  'uint8array-extras',
  'es-toolkit',
];

module.exports = (rootDir) => ({
  rootDir,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    '^.+\\.m?js$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
  moduleNameMapper: {
    '^nestjs-database-resilience$': '<rootDir>/libs/database-resilience/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  modulePathIgnorePatterns: ['<rootDir>/dist', '<rootDir>/libs/database-resilience/dist'],
});
