import { Column, Entity, PrimaryColumn } from 'typeorm';
import { ErrorStatisticsService, PoolMonitor, type ResilienceEventOf } from 'nestjs-database-resilience';
import { Logger } from '@nestjs/common';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';

@Entity('gadget')
class Gadget {
  @PrimaryColumn()
  id: number;

  @Column()
  name: string;
}

/**
 * Every statement of a guarded DataSource passes the connection guard, whichever TypeORM API sent it, and every
 * failure is recorded once: by the guard outside a unit of work, by the retry runner inside one.
 */
describe('TypeORM instrumentation in one place (real MariaDB)', () => {
  let scratch: Awaited<ReturnType<typeof useScratchDatabase>>;
  let app: ResilientApp;

  beforeAll(async () => {
    scratch = await useScratchDatabase('dr_it_instrument');
    const setup = await scratch.connect();
    await setup.query('CREATE TABLE gadget (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)');
    await setup.query("INSERT INTO gadget VALUES (1, 'one')");
    await setup.end();
    app = await resilientApp({
      database: scratch.database,
      poolSize: 3,
      entities: [Gadget],
      options: { alerts: { log: false }, healthCheck: { enabled: false } },
    });
  });

  afterAll(async () => {
    await app?.close();
    await scratch?.restoreEnv();
  });

  const since = (from: number) => app.events.slice(from);
  const queries = (from: number) => since(from).filter((e): e is ResilienceEventOf<'query'> => e.type === 'query');
  const failures = (from: number) =>
    since(from).filter((e): e is ResilienceEventOf<'attempt-failed'> => e.type === 'attempt-failed');

  it.each([
    ['DataSource.query', (a: ResilientApp) => a.dataSource.query('SELECT 1')],
    ['Repository', (a: ResilientApp) => a.dataSource.getRepository(Gadget).findOneBy({ id: 1 })],
    ['EntityManager', (a: ResilientApp) => a.dataSource.manager.count(Gadget)],
    [
      'QueryBuilder',
      (a: ResilientApp) =>
        a.dataSource.getRepository(Gadget).createQueryBuilder('g').where('g.id = :id', { id: 1 }).getOne(),
    ],
  ])('times a statement sent through %s', async (_api, run) => {
    const from = app.events.length;
    await run(app);
    expect(queries(from)).toEqual([expect.objectContaining({ database: 'default', kind: 'read', failed: false })]);
  });

  it("times each statement of TypeORM's own transaction, BEGIN and COMMIT included", async () => {
    const from = app.events.length;
    await app.dataSource.transaction(async (manager) => {
      await manager.update(Gadget, { id: 1 }, { name: 'uno' });
      await manager.findOneBy(Gadget, { id: 1 });
    });
    expect(queries(from).map((q) => q.kind)).toEqual(['begin', 'write', 'read', 'commit']);
  });

  it('records a failure outside any unit of work once, from whichever API', async () => {
    for (const fail of [
      () => app.dataSource.query("INSERT INTO gadget VALUES (1, 'dup')"),
      () => app.dataSource.getRepository(Gadget).insert({ id: 1, name: 'dup' }),
      () =>
        app.dataSource.transaction((manager) =>
          manager.createQueryBuilder().insert().into(Gadget).values({ id: 1, name: 'dup' }).execute(),
        ),
    ]) {
      const from = app.events.length;
      await expect(fail()).rejects.toThrow(/Duplicate entry/);
      expect(failures(from)).toEqual([
        expect.objectContaining({
          attempt: 1,
          willRetry: false,
          error: expect.objectContaining({ category: 'integrity' }),
        }),
      ]);
    }
  });

  it('records a failure inside a unit of work once (by the runner), not again by the guard', async () => {
    const from = app.events.length;
    await expect(
      app.resilience.transaction((manager) => manager.insert(Gadget, { id: 1, name: 'dup' }), { operation: 'dup' }),
    ).rejects.toThrow(/Duplicate entry/);
    expect(failures(from)).toEqual([expect.objectContaining({ operation: 'dup', attempt: 1 })]);
  });

  it('records a connect error TypeORM does not wrap, once', async () => {
    const proxy = await new FaultProxy('127.0.0.1', 3306).start();
    const refused = await resilientApp({
      database: scratch.database,
      port: proxy.port,
      options: { alerts: { log: false }, healthCheck: { enabled: false }, pool: { validateAfterIdleMs: 0 } },
    });
    try {
      await proxy.stop(); // the port closes: new connections are refused
      const from = refused.events.length;
      await expect(refused.dataSource.query('SELECT 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const recorded = refused.events
        .slice(from)
        .filter((e): e is ResilienceEventOf<'attempt-failed'> => e.type === 'attempt-failed');
      expect(recorded).toEqual([
        expect.objectContaining({ error: expect.objectContaining({ category: 'connection', code: 'ECONNREFUSED' }) }),
      ]);
      expect(refused.module.get(ErrorStatisticsService).recentErrors(10)).toHaveLength(1);
    } finally {
      await refused.close();
    }
  });

  it('gives pool figures (total, idle, in use, waiting) and warns when the pool is saturated', async () => {
    const monitor = app.module.get(PoolMonitor);
    const held = await Promise.all(
      [1, 2, 3].map(async () => {
        const runner = app.dataSource.createQueryRunner();
        await runner.connect();
        return runner;
      }),
    );
    const warnings: string[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    const waiting = app.dataSource.query('SELECT 2'); // a caller queued behind the three
    try {
      await waitUntil(async () => monitor.figures().default?.waiting === 1, 'the caller to queue');
      expect(monitor.check().default).toEqual({ total: 3, idle: 0, inUse: 3, waiting: 1, limit: 3 });
      expect(warnings.filter((w) => /pool of "default" is saturated/.test(w))).toHaveLength(1);
    } finally {
      warn.mockRestore();
      await Promise.all(held.map((runner) => runner.release()));
    }
    await waiting;
    expect(monitor.figures().default).toMatchObject({ total: 3, inUse: 0, idle: 3, waiting: 0 });
  });
});
