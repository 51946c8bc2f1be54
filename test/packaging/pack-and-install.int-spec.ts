import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs a command; on failure the error carries what it printed, so that the test says why. */
function run(command: string, args: string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, stdio: 'pipe' }).toString();
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`, {
      cause: error,
    });
  }
}

/**
 * The library as users get it: build, `npm pack`, install the tarball into a separate Nest app, compile that
 * app against the published types and boot it with DatabaseResilienceModule.forRoot().
 */
describe('the packed library in a separate Nest app', () => {
  const root = join(__dirname, '..', '..');
  const libraryDir = join(root, 'libs', 'database-resilience');
  let scratch: string;
  let tarball: string;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'dr-pack-'));
    run('npm', ['run', 'build'], libraryDir);
    const packed = run('npm', ['pack', '--json', '--pack-destination', scratch], libraryDir);
    tarball = join(scratch, (JSON.parse(packed) as Array<{ filename: string }>)[0].filename);
  }, 120_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('ships only the build, with types, under the package name', () => {
    const listing = execFileSync('tar', ['-tzf', tarball]).toString().split('\n').filter(Boolean);
    expect(listing).toContain('package/dist/index.js');
    expect(listing).toContain('package/dist/index.d.ts');
    expect(listing).toContain('package/package.json');
    for (const file of [
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/admin/assets/dashboard.js',
      'monitoring/prometheus/db-resilience.rules.yml',
      'monitoring/grafana/db-resilience.dashboard.json',
    ]) {
      expect(listing).toContain(`package/${file}`);
    }
    expect(listing.filter((f) => f.endsWith('.map'))).toEqual([]); // no source maps pointing at missing sources
    expect(listing.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(listing.filter((f) => f.includes('.spec.'))).toEqual([]);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json']).toString());
    expect(manifest.name).toBe('nestjs-database-resilience');
    expect(Object.keys(manifest.peerDependencies)).toEqual(
      expect.arrayContaining([
        '@nestjs/common',
        '@nestjs/core',
        'typeorm',
        '@nestjs/schedule',
        '@willsoto/nestjs-prometheus',
        'prom-client',
      ]),
    );
    // The driver of each engine: an app installs the one of its database.
    for (const optional of ['mysql2', 'pg', 'ioredis', 'nodemailer', 'helmet', '@opentelemetry/api']) {
      expect(manifest.dependencies[optional]).toBeUndefined();
      expect(manifest.peerDependenciesMeta[optional]).toEqual({ optional: true });
    }
  });

  it('installs without its optional peers (ioredis, nodemailer, helmet, @opentelemetry/api), compiles and boots in a fresh app, on MySQL and on PostgreSQL', () => {
    const app = join(scratch, 'app');
    mkdirSync(join(app, 'src'), { recursive: true });
    const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const version = (name: string) => rootManifest.dependencies[name] ?? rootManifest.devDependencies[name];
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'scratch-app',
        private: true,
        dependencies: {
          'nestjs-database-resilience': `file:${tarball}`,
          '@nestjs/common': version('@nestjs/common'),
          '@nestjs/core': version('@nestjs/core'),
          'reflect-metadata': version('reflect-metadata'),
          rxjs: version('rxjs'),
          typeorm: version('typeorm'),
          '@nestjs/typeorm': version('@nestjs/typeorm'),
          mysql2: version('mysql2'),
          pg: version('pg'),
          // as README tells users to install them
          '@nestjs/schedule': version('@nestjs/schedule'),
          '@willsoto/nestjs-prometheus': version('@willsoto/nestjs-prometheus'),
          'prom-client': version('prom-client'),
        },
        devDependencies: { typescript: version('typescript'), '@types/node': version('@types/node') },
      }),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          rootDir: 'src',
          outDir: 'dist',
          types: ['node'],
          skipLibCheck: true,
        },
        include: ['src'],
      }),
    );
    writeFileSync(
      join(app, 'src', 'main.ts'),
      `import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DatabaseResilienceModule, ErrorClassifier, Severity, type ClassifiedError } from 'nestjs-database-resilience';

const withRedis = process.argv[2] === 'redis';

@Module({
  imports: [
    DatabaseResilienceModule.forRoot({
      retry: { maxAttempts: 4 },
      ...(withRedis ? { sharedState: { store: { type: 'redis', url: 'redis://127.0.0.1:6379' } } } : {}),
    }),
  ],
})
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false }).catch(
    (error: Error) => {
      process.stdout.write(JSON.stringify({ failed: error.message }));
      process.exit(0);
    },
  );
  const result: ClassifiedError = app.get(ErrorClassifier).classify({ errno: 1213, code: 'ER_LOCK_DEADLOCK', message: 'Deadlock found' });
  const severity: Severity = result.severity;
  process.stdout.write(JSON.stringify({ category: result.category, severity }));
  await app.close();
}
void main();
`,
    );
    // A PostgreSQL app, as README shows it: the engine is picked from the DataSource's type.
    writeFileSync(
      join(app, 'src', 'postgres.ts'),
      `import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { DatabaseResilienceModule, DatabaseHealthService, ResilienceService } from 'nestjs-database-resilience';
import type { DataSource } from 'typeorm';

const schema = process.argv[2];

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres', host: '127.0.0.1', port: 5432, username: 'postgres', database: 'test', schema,
      extra: { options: '-c search_path=' + schema },
    }),
    DatabaseResilienceModule.forRoot({ healthCheck: { enabled: false } }),
  ],
})
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const resilience = app.get(ResilienceService);
  const dataSource = app.get<DataSource>(getDataSourceToken());
  await dataSource.query('CREATE TABLE note (body TEXT PRIMARY KEY)');
  await resilience.transaction((manager) => manager.query("INSERT INTO note VALUES ('kept')"));
  const swallowed = await resilience
    .transaction(async (manager) => {
      await manager.query("INSERT INTO note VALUES ('lost')");
      await manager.query('SELECT * FROM no_such_table').catch(() => undefined);
    })
    .then(() => 'resolved', (error: { code?: string }) => error.code);
  const [health] = await app.get(DatabaseHealthService).check();
  const rows = await dataSource.query('SELECT body FROM note ORDER BY body');
  process.stdout.write(JSON.stringify({ health: health?.status, swallowed, rows: rows.map((r: { body: string }) => r.body) }));
  await app.close();
}
void main();
`,
    );
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], app);
    run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], app);
    const output = run(process.execPath, [join(app, 'dist', 'main.js')], app);
    expect(JSON.parse(output)).toEqual({ category: 'deadlock', severity: 'high' });
    expect(readdirSync(join(app, 'node_modules', 'nestjs-database-resilience', 'dist'))).toContain('index.d.ts');
    // The optional peers were not installed, and forRoot() booted without them.
    const installed = readdirSync(join(app, 'node_modules'));
    expect(installed.filter((name) => ['ioredis', 'nodemailer', 'helmet'].includes(name))).toEqual([]);
    // Configured without its package: one clear start-up error naming it.
    const withRedis = run(process.execPath, [join(app, 'dist', 'main.js'), 'redis'], app);
    expect(JSON.parse(withRedis)).toEqual({
      failed: expect.stringContaining(
        `sharedState.store { type: 'redis' } needs the package "ioredis", which is not installed: npm install ioredis`,
      ),
    });
    // The PostgreSQL app through the packed library: guarded, a COMMIT answered ROLLBACK fails, nothing half-written.
    const schema = `dr_pack_${process.pid}`;
    run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-qc', `CREATE SCHEMA ${schema}`], app);
    try {
      const onPostgres = run(process.execPath, [join(app, 'dist', 'postgres.js'), schema], app);
      expect(JSON.parse(onPostgres)).toEqual({ health: 'up', swallowed: 'TRANSACTION_ROLLED_BACK', rows: ['kept'] });
    } finally {
      run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'test', '-qc', `DROP SCHEMA ${schema} CASCADE`], app);
    }
  }, 180_000);
});
