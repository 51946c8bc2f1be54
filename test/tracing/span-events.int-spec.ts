import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { CircuitBreakerRegistry, CircuitOpenError, CommitOutcomeUnknownError } from 'nestjs-database-resilience';
import { FaultProxy } from '../../apps/cli/src/support/fault-proxy';
import type { RawSession, ServerTarget } from '../../apps/cli/src/support/server-target';
import { deadlockOnce } from '../support/mysql-deadlock';
import { resilientApp, type ResilientApp } from '../support/resilient-app';
import { useScratchDatabase } from '../support/scratch-database';

/**
 * With @opentelemetry/api installed and an SDK registered as an app does, what the module did for a call
 * appears on the call's own span: retries, deadlocks, breaker rejections and commits of unknown outcome.
 */
describe('OpenTelemetry: span events on the active span', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  let scratch: ServerTarget & { restoreEnv(): Promise<void> };
  let proxy: FaultProxy;
  let app: ResilientApp;
  let side: RawSession;

  /** Runs `work` inside a span of its own, ends it, and returns what was recorded on it. */
  async function inSpan(name: string, work: () => Promise<unknown>): Promise<ReadableSpan> {
    await tracer.startActiveSpan(name, async (span: Span) => {
      try {
        await work();
      } catch {
        // the span holds what happened; each test checks the error it expects
      } finally {
        span.end();
      }
    });
    return exporter.getFinishedSpans().find((s) => s.name === name)!;
  }
  const eventNames = (span: ReadableSpan) => span.events.map((e) => e.name);

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    scratch = await useScratchDatabase('dr_otel');
    proxy = await new FaultProxy('127.0.0.1', 3306).start();
    app = await resilientApp({
      database: scratch.database,
      port: proxy.port,
      options: { healthCheck: { enabled: false } },
    });
    side = await scratch.connect();
    await side.query('CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB');
    await side.query('INSERT INTO accounts VALUES (1, 100), (2, 100), (3, 100), (4, 100), (5, 100)');
  }, 60_000);

  afterAll(async () => {
    await side?.end();
    await app?.close();
    await proxy?.stop();
    await scratch?.restoreEnv();
    trace.disable();
    context.disable();
  });

  it('a deadlock re-run as a whole transaction: a deadlock event and a retry event, with db.system and error.type', async () => {
    let attempts = 0;
    const span = await inSpan('transfer', async () => {
      attempts = await deadlockOnce(app.resilience, side, 'accounts');
    });
    expect(attempts).toBe(2);
    expect(eventNames(span)).toEqual(expect.arrayContaining(['db.resilience.deadlock', 'db.resilience.retry']));
    const deadlock = span.events.find((e) => e.name === 'db.resilience.deadlock')!;
    expect(deadlock.attributes).toMatchObject({
      'db.system': 'mysql',
      'error.type': 'ER_LOCK_DEADLOCK',
      'db.resilience.category': 'deadlock',
      'db.resilience.database': 'default',
      'db.resilience.attempt': 1,
    });
    expect(span.attributes['db.resilience.attempts']).toBe(attempts);
  }, 60_000);

  it('a call an open breaker turns away: a circuit_open event on its span', async () => {
    const breakers = app.module.get(CircuitBreakerRegistry);
    breakers.forceOpen('default');
    let rejected: unknown;
    const span = await inSpan('while open', () =>
      app.resilience.execute(() => app.dataSource.query('SELECT 1')).catch((error) => (rejected = error)),
    );
    breakers.reset('default');
    expect(rejected).toBeInstanceOf(CircuitOpenError);
    expect(eventNames(span)).toContain('db.resilience.circuit_open');
    expect(span.attributes).toMatchObject({ 'db.resilience.circuit_open': true });
  });

  it('a COMMIT whose answer was lost: a commit_outcome_unknown event and error.type on the span', async () => {
    let thrown: unknown;
    const span = await inSpan('cut commit', async () => {
      proxy.cutAfterNextCommit();
      await app.resilience
        .transaction((manager) => manager.query('UPDATE accounts SET balance = balance - 1 WHERE id = 3'))
        .catch((error) => (thrown = error));
    });
    expect(thrown).toBeInstanceOf(CommitOutcomeUnknownError);
    expect(eventNames(span)).toContain('db.resilience.commit_outcome_unknown');
    expect(span.attributes).toMatchObject({
      'db.resilience.commit_outcome_unknown': true,
      'error.type': 'COMMIT_OUTCOME_UNKNOWN',
    });
  }, 30_000);

  it('a call that needed nothing of the module leaves its span alone', async () => {
    const span = await inSpan('plain', () => app.resilience.execute(() => app.dataSource.query('SELECT 1')));
    expect(span.events).toEqual([]);
    expect(Object.keys(span.attributes).filter((k) => k.startsWith('db.resilience'))).toEqual([]);
  });
});
