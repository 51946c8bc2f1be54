import { request } from 'node:http';
import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { CircuitBreakerRegistry, RequestCancelledError, type ResilienceEventOf } from 'nestjs-database-resilience';
import { register } from 'prom-client';
import type { DataSource } from 'typeorm';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { ENGINES, type EngineFixture, type EngineSpace } from '../support/engine-fixtures';
import type { ResilientApp } from '../support/resilient-app';

/** How long the route's statement would run if nothing stopped it. */
const SLEEP_S = 20;
/** "Within a second", with what a loaded 2-core machine may add to it. */
const GONE_WITHIN_MS = 1_000 + 500;

/**
 * A request whose client goes away mid-statement (a proxy's timeout, a closed page), and a caller that aborts the
 * `signal` it passed: the statement is stopped on the server, the transaction rolled back, the work recorded as
 * cancelled (not as a database error, nothing told to the breaker). One spec for both engines.
 */
describe.each(ENGINES)('%s: work whose caller went away', (_name, engine: EngineFixture) => {
  let space: EngineSpace;
  let app: ResilientApp;
  let next = 0;
  const marker = () => `cancel_probe_${next}`;
  const sleepMarked = (tag: string) => `${engine.sleep(SLEEP_S)} /* ${tag} */`;
  const running = async (tag: string) => Number((await space.admin.query(engine.running(tag)))[0].n);
  const written = async (id: number) =>
    Number((await space.admin.query(`SELECT COUNT(*) AS n FROM entry WHERE id = ${id}`))[0].n);

  @Controller()
  class SlowWriteController {
    constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

    /** Writes a row, then runs a long statement in the same transaction. */
    @Post('slow-write/:id/:tag')
    @HttpCode(200)
    async slowWrite(@Param('id') id: string, @Param('tag') tag: string) {
      await this.dataSource.transaction(async (manager) => {
        await manager.query(engine.insertEntry, [Number(id), 'slow']);
        await manager.query(sleepMarked(tag.replace(/\W/g, '')));
      });
      return { ok: true };
    }
  }

  beforeAll(async () => {
    space = await engine.setUp('dr_cancel');
    app = await space.app({
      options: { requestContext: true, healthCheck: { enabled: false }, alerts: { log: false } },
      controllers: [SlowWriteController],
    });
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await space?.tearDown();
  });

  const cancelledEvents = () =>
    app.events.filter((e): e is ResilienceEventOf<'request-cancelled'> => e.type === 'request-cancelled');
  const cancelledMetric = async () =>
    (await register.getSingleMetric('db_resilience_cancelled_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ??
    0;

  it('an HTTP client that disconnects mid-statement: the statement is gone from the server within a second, the transaction rolled back, recorded as cancelled', async () => {
    const id = ++next;
    const tag = marker();
    const errorsBefore = app.events.filter((e) => e.type === 'attempt-failed').length;
    const metricBefore = await cancelledMetric();
    const client = request(`${app.url}/slow-write/${id}/${tag}`, { method: 'POST' });
    client.on('error', () => undefined); // destroyed on purpose
    client.end();
    await waitUntil(async () => (await running(tag)) === 1, 'the statement on the server', 10_000);

    const leftAt = Date.now();
    client.destroy(); // the client goes away
    await waitUntil(async () => (await running(tag)) === 0, 'the statement gone from the server', 10_000);
    expect(Date.now() - leftAt).toBeLessThan(GONE_WITHIN_MS);

    expect(await written(id)).toBe(0); // its transaction was rolled back
    await waitUntil(async () => cancelledEvents().length > 0, 'the cancellation recorded');
    expect(cancelledEvents()).toEqual([expect.objectContaining({ database: 'default', route: expect.any(String) })]);
    expect(app.events.filter((e) => e.type === 'attempt-failed').length).toBe(errorsBefore); // not an error
    expect(await cancelledMetric()).toBe(metricBefore + 1);
    expect(app.module.get(CircuitBreakerRegistry).get('default')!.state).toBe('closed');
  }, 60_000);

  it('execute() and transaction() with an AbortSignal: aborted mid-statement they fail with RequestCancelledError, the statement stopped, nothing written, never retried', async () => {
    const attemptsFailed = app.events.filter((e) => e.type === 'attempt-failed').length;
    const cancelledBefore = cancelledEvents().length;
    for (const via of ['execute', 'transaction'] as const) {
      const id = ++next;
      const tag = marker();
      const controller = new AbortController();
      const work =
        via === 'execute'
          ? app.resilience.execute(() => app.dataSource.query(sleepMarked(tag)), {
              signal: controller.signal,
              retry: true,
            })
          : app.resilience.transaction(
              async (manager) => {
                await manager.query(engine.insertEntry, [id, 'signal']);
                await manager.query(sleepMarked(tag));
              },
              { signal: controller.signal },
            );
      const outcome = work.then(
        () => 'succeeded',
        (error: unknown) => error,
      );
      await waitUntil(async () => (await running(tag)) === 1, 'the statement on the server', 10_000);
      const abortedAt = Date.now();
      controller.abort();
      expect(await outcome).toBeInstanceOf(RequestCancelledError);
      await waitUntil(async () => (await running(tag)) === 0, 'the statement gone from the server', 10_000);
      expect(Date.now() - abortedAt).toBeLessThan(GONE_WITHIN_MS);
      expect(await written(id)).toBe(0);
    }
    // Each said once as cancelled; no attempt failed (none recorded as an error, none retried).
    expect(cancelledEvents().length).toBe(cancelledBefore + 2);
    expect(app.events.filter((e) => e.type === 'attempt-failed').length).toBe(attemptsFailed);

    // A signal aborted already: nothing is sent.
    const controller = new AbortController();
    controller.abort();
    const sent = app.events.filter((e) => e.type === 'query').length;
    await expect(
      app.resilience.execute(() => app.dataSource.query('SELECT 1'), { signal: controller.signal }),
    ).rejects.toBeInstanceOf(RequestCancelledError);
    expect(app.events.filter((e) => e.type === 'query').length).toBe(sent);
  }, 60_000);
});
