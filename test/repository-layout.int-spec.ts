import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { databaseEnv, DATABASE_ENV_DEFAULTS } from '../libs/shared/src/database-env';

const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** `KEY=value` lines of .env.example. */
function envExample(): Map<string, string> {
  return new Map(
    read('.env.example')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
}

/** Every environment variable the apps' code reads (`process.env.X` or `env.X`). */
function variablesReadByApps(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.spec.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/\b(?:process\.env|env)\.([A-Z][A-Z0-9_]*)/g))
          found.add(match[1]);
      }
    }
  };
  ['apps', 'libs/shared'].forEach((dir) => walk(join(root, dir)));
  return found;
}

describe('repository layout, docker-compose.yml and .env.example', () => {
  it('has the promised top level', () => {
    const entries = readdirSync(root);
    for (const expected of [
      'apps',
      'libs',
      'test',
      'bench',
      'docs',
      '.ci',
      'nest-cli.json',
      'package.json',
      'tsconfig.json',
      'docker-compose.yml',
      '.env.example',
      'README.md',
    ]) {
      expect(entries).toContain(expected);
    }
    expect(readdirSync(join(root, 'apps')).sort()).toEqual(['api', 'cli']);
  });

  it('lists in .env.example every variable the apps read, with defaults that reach the local server', () => {
    const example = envExample();
    const missing = [...variablesReadByApps()].filter((name) => !example.has(name));
    expect(missing).toEqual([]);
    expect(example.get('DB_HOST')).toBe(DATABASE_ENV_DEFAULTS.host);
    expect(example.get('DB_PORT')).toBe(String(DATABASE_ENV_DEFAULTS.port));
    expect(example.get('DB_USER')).toBe(DATABASE_ENV_DEFAULTS.username);
    expect(example.get('DB_PASSWORD')).toBe(DATABASE_ENV_DEFAULTS.password);
    expect(example.get('DB_NAME')).toBe(DATABASE_ENV_DEFAULTS.database);
  });

  it('docker-compose.yml runs MySQL 8 and the demo api, wired together', () => {
    const compose = parse(read('docker-compose.yml'));
    const { mysql, api } = compose.services;
    expect(mysql.image).toMatch(/^mysql:8/);
    expect(mysql.ports).toContain('3306:3306');
    expect(mysql.environment).toMatchObject({ MYSQL_ALLOW_EMPTY_PASSWORD: 'yes', MYSQL_DATABASE: 'test' });
    expect(mysql.healthcheck.test).toEqual(expect.arrayContaining(['mysqladmin', 'ping']));

    expect(api.ports).toContain('3000:3000');
    expect(api.depends_on.mysql.condition).toBe('service_healthy');
    expect(api.command).toContain('node dist/apps/api/main.js');
    expect(api.environment.DB_HOST).toBe('mysql');
    const example = envExample();
    const unknown = Object.keys(api.environment).filter((name) => !example.has(name));
    expect(unknown).toEqual([]);
  });

  it('docker-compose.yml runs PostgreSQL 15 the way the PostgreSQL tests reach it, and the api on it', () => {
    const { postgres, 'api-postgres': api } = parse(read('docker-compose.yml')).services;
    expect(postgres.image).toMatch(/^postgres:15/);
    expect(postgres.ports).toContain('5432:5432');
    expect(postgres.environment).toMatchObject({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' });
    expect(postgres.healthcheck.test).toEqual(expect.arrayContaining(['pg_isready']));
    expect(api.depends_on.postgres.condition).toBe('service_healthy');
    expect(databaseEnv({ DATABASE_URL: api.environment.DATABASE_URL })).toMatchObject({
      engine: 'postgres',
      host: 'postgres',
      port: 5432,
      username: 'postgres',
      database: 'test',
    });
  });

  it('targets the current Node LTS: engines and the compose image on Node 22 or later', () => {
    for (const manifest of ['package.json', 'libs/database-resilience/package.json']) {
      expect({ manifest, node: JSON.parse(read(manifest)).engines.node }).toEqual({ manifest, node: '>=22' });
    }
    expect(parse(read('docker-compose.yml')).services.api.image).toMatch(/^node:(2[2-9]|[3-9]\d)\b/);
  });

  it("docs/ARCHITECTURE.md's map lists every folder of the library, and only folders that exist", () => {
    const doc = read('docs/ARCHITECTURE.md');
    const block = doc.slice(doc.indexOf('## Layout as built'));
    const lines = block
      .slice(block.indexOf('```\n') + 4, block.indexOf('\n```', block.indexOf('```\n') + 4))
      .split('\n');
    // `  name/   what it holds`: the indentation (two spaces a level) says where a folder sits under src/.
    const mapped: string[] = [];
    const parents: string[] = [];
    for (const line of lines.slice(lines.indexOf('libs/database-resilience/src/') + 1)) {
      const match = /^( +)([\w.-]+)\/ /.exec(line);
      if (!match) {
        if (/^\S/.test(line)) break; // the next top-level entry: past the library
        continue;
      }
      const depth = match[1].length / 2 - 1;
      parents.length = depth;
      parents.push(match[2]);
      mapped.push(parents.join('/'));
    }
    const onDisk: string[] = [];
    const walk = (dir: string, prefix: string) => {
      for (const name of readdirSync(dir)) {
        if (!statSync(join(dir, name)).isDirectory()) continue;
        onDisk.push(prefix + name);
        walk(join(dir, name), `${prefix}${name}/`);
      }
    };
    walk(join(root, 'libs/database-resilience/src'), '');
    expect(mapped.sort()).toEqual(onDisk.sort());
  });

  it('keeps every library file under 300 lines: one concept a file', () => {
    const long: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts') && readFileSync(path, 'utf8').split('\n').length > 301)
          long.push(path.slice(root.length + 1));
      }
    };
    walk(join(root, 'libs/database-resilience/src'));
    expect(long).toEqual([]);
  });
});
