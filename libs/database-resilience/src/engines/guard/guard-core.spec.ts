import { CircuitBreaker } from '../../circuit-breaker/circuit-breaker';
import { CircuitOpenError } from '../../circuit-breaker/circuit-open.error';
import { ErrorCategory } from '../../classification/error-category.enum';
import { ErrorClassifier } from '../../classification/error-classifier';
import { unitOfWork } from '../../context/unit-of-work';
import { databaseErrorMarkOf, outcomeUnknownOf } from '../../errors/database-error-marks';
import type { AttemptFailedEvent, ResilienceEvent } from '../../events/resilience-event';
import { ResilienceEvents } from '../../events/resilience-events';
import type { DatabaseResilienceOptions } from '../../options/database-resilience-options';
import { resolveOptions } from '../../options/options.schema';
import { guardSettingsOf } from '../database-engine';
import { FakeAdapter, FakePool, type FakeConnection } from './fake-adapter.spec-support';
import { GuardCore } from './guard-core';

const lost = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const readOnly = () =>
  Object.assign(new Error('The MariaDB server is running with the --read-only option'), {
    errno: 1290,
    code: 'ER_OPTION_PREVENTS_STATEMENT',
  });

/** The core over a fake adapter, as an engine builds it. */
function coreWith(options: DatabaseResilienceOptions = {}, adapter = new FakeAdapter()) {
  const resolved = resolveOptions({ circuitBreaker: { failureThreshold: 2 }, ...options });
  const breaker = new CircuitBreaker('default', resolved.circuitBreaker);
  const events = new ResilienceEvents();
  const seen: ResilienceEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const core = new GuardCore<FakeConnection, FakePool>(
    'default',
    guardSettingsOf(resolved),
    adapter,
    new ErrorClassifier(),
    breaker,
    events,
  );
  const recorded = () => seen.filter((e): e is AttemptFailedEvent => e.type === 'attempt-failed');
  return { core, adapter, breaker, recorded };
}

/** A statement as a driver's caller sends it: through the connection's (wrapped) query. */
const statement = (connection: FakeConnection, sql: string) =>
  new Promise<unknown>((resolve, reject) =>
    connection.query(sql, [], (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows))),
  );
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );
const inUnit = <T>(work: () => Promise<T>, deadlineMs?: number) =>
  unitOfWork.run(
    {
      database: 'default',
      operation: 'op',
      deadline: deadlineMs === undefined ? undefined : { at: Date.now() + deadlineMs, ms: deadlineMs },
    },
    work,
  );

describe('GuardCore over a driver adapter (no server)', () => {
  const cores: Array<GuardCore<FakeConnection, FakePool>> = [];
  const make = (options?: DatabaseResilienceOptions, adapter?: FakeAdapter) => {
    const made = coreWith(options, adapter);
    cores.push(made.core);
    return made;
  };
  afterEach(() => {
    cores.splice(0).forEach((core) => core.dispose());
    jest.useRealTimers();
  });

  it('an open breaker turns a borrow away before the pool is asked', async () => {
    const { core, adapter, breaker } = make();
    breaker.forceOpen();
    await expect(core.borrowPrimary()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(adapter.primary.lent).toBe(0);
  });

  it('a statement outside a unit of work past queries.timeoutMs: closed, stopped on the server, recorded once, never pooled', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const { core, adapter, recorded } = make({ queries: { timeoutMs: 300 } });
    adapter.primary.answer = (sql) => (sql.startsWith('SELECT SLEEP') ? undefined : { rows: [] }); // hangs
    const connection = await core.borrowPrimary();
    const failing = failureOf(statement(connection, 'SELECT SLEEP(2)'));
    await jest.advanceTimersByTimeAsync(500);
    const error = await failing;
    expect(databaseErrorMarkOf(error)?.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    expect(connection.closed).toBe(true);
    expect(adapter.stopped).toEqual([connection.id]);
    expect(recorded().map((e) => e.error.category)).toEqual([ErrorCategory.STATEMENT_TIMEOUT]);
    core.giveBack(connection);
    expect(adapter.primary.discarded).toBe(1);
    expect(adapter.primary.idle).not.toContain(connection); // the one pooled is the STOP's own connection
    expect(adapter.primary.sent).toContain(`STOP ${connection.id}`);
  });

  it('inside a unit of work the same failure is left to the unit to record', async () => {
    const { core, adapter, recorded } = make();
    adapter.primary.answer = () => undefined;
    const error = await inUnit(async () => failureOf(statement(await core.borrowPrimary(), 'SELECT 1')), 50);
    expect(databaseErrorMarkOf(error)?.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    expect(recorded()).toEqual([]);
  });

  it("a replica's failures say nothing to the primary's breaker; its reads go to the primary while it rests", async () => {
    const adapter = new FakeAdapter();
    const replica = new FakePool('replica', () => ({ error: lost() }));
    adapter.replicas.push({ node: 'replica-1', pool: replica });
    const { core, breaker } = make({ failover: { replicaRetryMs: 60_000 } }, adapter);
    for (let i = 0; i < 3; i++) {
      const connection = await core.borrowReplica();
      await failureOf(statement(connection, 'SELECT 1'));
      core.giveBack(connection);
    }
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
    expect(breaker.state).toBe('closed');
    expect(replica.lent).toBe(1); // then resting: the next reads went to the primary
    expect(adapter.primary.lent).toBe(2);
    expect(replica.discarded).toBe(1); // lost: destroyed, not pooled
  });

  it("a replica's deadline says nothing to the primary's breaker either", async () => {
    const adapter = new FakeAdapter();
    const replica = new FakePool('replica', () => undefined); // hung
    adapter.replicas.push({ node: 'replica-1', pool: replica });
    const { core, breaker } = make({}, adapter);
    for (let i = 0; i < 3; i++) {
      await inUnit(async () => failureOf(statement(await core.borrowReplica(), 'SELECT 1')), 20);
    }
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
  });

  it("the primary's lost connections count toward its breaker (those opened after the first loss)", async () => {
    const { core, adapter, breaker } = make();
    adapter.primary.answer = () => ({ error: lost() });
    for (let i = 0; i < 3; i++) await failureOf(statement(await core.borrowPrimary(), 'SELECT 1'));
    expect(breaker.state).toBe('open');
  });

  it('a COMMIT lost in flight has an unknown outcome, with its session; one lost before it was sent has not', async () => {
    const { core, adapter } = make();
    let commitError: unknown = lost();
    adapter.primary.answer = (sql) => (sql === 'COMMIT' ? { error: commitError } : { rows: [] });
    const first = await core.borrowPrimary();
    await statement(first, 'BEGIN');
    await statement(first, 'INSERT INTO t VALUES (1)');
    const unknown = await failureOf(statement(first, 'COMMIT'));
    expect(outcomeUnknownOf(unknown)).toEqual({ sessionId: first.id, server: 'SERVER', transactionId: undefined });
    expect(databaseErrorMarkOf(unknown)?.category).toBe(ErrorCategory.COMMIT_OUTCOME_UNKNOWN);

    commitError = Object.assign(new Error('not sent'), { code: 'NOT_SENT', errno: undefined });
    adapter.primary.idle.length = 0;
    const second = await core.borrowPrimary();
    await statement(second, 'BEGIN');
    const notSent = await failureOf(statement(second, 'COMMIT'));
    expect(outcomeUnknownOf(notSent)).toBeUndefined();
  });

  it('an autocommit write lost in flight has an unknown outcome; a read has not', async () => {
    const { core, adapter } = make();
    adapter.primary.answer = () => ({ error: lost() });
    const write = await failureOf(statement(await core.borrowPrimary(), 'UPDATE t SET a = 1'));
    const read = await failureOf(statement(await core.borrowPrimary(), 'SELECT 1'));
    expect(outcomeUnknownOf(write)).toBeDefined();
    expect(outcomeUnknownOf(read)).toBeUndefined();
  });

  it('a connection given back inside its transaction, or after a read-only answer, is destroyed, not pooled', async () => {
    const { core, adapter } = make();
    adapter.primary.answer = (sql) => (sql.startsWith('INSERT') ? { error: readOnly() } : { rows: [] });
    const open = await core.borrowPrimary();
    await statement(open, 'BEGIN');
    core.giveBack(open);
    const refused = await core.borrowPrimary();
    await failureOf(statement(refused, 'INSERT INTO t VALUES (1)'));
    core.giveBack(refused);
    const healthy = await core.borrowPrimary();
    await statement(healthy, 'SELECT 1');
    core.giveBack(healthy);
    expect(adapter.primary.discarded).toBe(2);
    expect(adapter.primary.released).toBe(1);
  });

  it('a ROLLBACK refused past the deadline is never sent, and its connection is destroyed, not pooled in its transaction', async () => {
    const { core, adapter } = make();
    const connection = await core.borrowPrimary();
    await statement(connection, 'BEGIN');
    const refused = await inUnit(() => failureOf(statement(connection, 'ROLLBACK')), -1); // its deadline has passed
    expect(databaseErrorMarkOf(refused)?.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    core.giveBack(connection);
    expect(adapter.primary.sent).not.toContain('ROLLBACK');
    expect(adapter.primary.discarded).toBe(1);
    expect(adapter.primary.idle).not.toContain(connection);
  });

  it('a caller deadline puts the server-side limit on data statements (the adapter writes it)', async () => {
    const { core, adapter } = make();
    await inUnit(async () => statement(await core.borrowPrimary(), 'SELECT 1'), 5_000);
    expect(adapter.primary.sent.at(-1)).toMatch(/^\/\* limit \d+ \*\/ SELECT 1$/);
  });

  it('an idle connection is validated before it is lent; a dead one is discarded and another lent', async () => {
    const { core, adapter } = make({ pool: { validateAfterIdleMs: 0 } });
    const first = await core.borrowPrimary();
    core.giveBack(first); // pooled
    first.closed = true; // the server ended it while idle
    const lent = await core.borrowPrimary();
    expect(lent).not.toBe(first);
    expect(adapter.primary.discarded).toBe(1);
    expect(adapter.primary.sent.filter((sql) => sql === 'SELECT 1').length).toBeGreaterThanOrEqual(1);
  });

  it('the pool wait is bounded by the caller deadline, and recorded outside a unit of work', async () => {
    const { core, adapter, recorded } = make({ pool: { acquireTimeoutMs: 30 } });
    adapter.primary.exhausted = true;
    const outside = await failureOf(core.borrowPrimary());
    expect(databaseErrorMarkOf(outside)?.category).toBe(ErrorCategory.OVERLOAD);
    expect(recorded()).toHaveLength(1);
    const inside = await inUnit(async () => failureOf(core.borrowPrimary()), 10);
    expect(databaseErrorMarkOf(inside)?.category).toBe(ErrorCategory.STATEMENT_TIMEOUT);
    expect(recorded()).toHaveLength(1);
  });

  it("the concurrency limit's slot is given back once, however often the connection is released", async () => {
    const { core } = make({ concurrencyLimit: { enabled: true } });
    const connection = await core.borrowPrimary();
    expect(core.concurrencyLimitState()?.inFlight).toBe(1);
    core.giveBack(connection);
    core.giveBack(connection);
    expect(core.concurrencyLimitState()?.inFlight).toBe(0);
  });

  it("health: a replica's lag is read; one that refuses the lag statement is up (lag unknown), one that drops it is down", async () => {
    const adapter = new FakeAdapter();
    const denied = Object.assign(new Error('Access denied; you need the REPLICA MONITOR privilege'), {
      errno: 1227,
      code: 'ER_SPECIFIC_ACCESS_DENIED_ERROR',
    });
    adapter.replicas.push(
      { node: 'r1', pool: new FakePool('r1', () => ({ rows: [{ lag: 3 }] })) },
      { node: 'r2', pool: new FakePool('r2', () => ({ error: denied })) },
      { node: 'r3', pool: new FakePool('r3', () => ({ error: lost() })) },
    );
    const { core } = make({}, adapter);
    expect(await core.housekeeping.checkReplicas(1_000)).toEqual([
      expect.objectContaining({ node: 'r1', up: true, lagSeconds: 3 }),
      expect.objectContaining({ node: 'r2', up: true, lagSeconds: null }),
      expect.objectContaining({ node: 'r3', up: false, lagSeconds: null }),
    ]);
  });

  it('the engine reads each failure before the core acts on it', async () => {
    const { core, adapter } = make();
    adapter.primary.answer = () => ({ error: readOnly() });
    await failureOf(statement(await core.borrowPrimary(), 'INSERT INTO t VALUES (1)'));
    expect(adapter.interpreted).toEqual(['ER_OPTION_PREVENTS_STATEMENT']);
  });
});
