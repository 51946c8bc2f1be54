import { CircuitBreaker } from '../../circuit-breaker/circuit-breaker';
import { ErrorClassifier } from '../../classification/error-classifier';
import { unitOfWork } from '../../context/unit-of-work';
import { databaseErrorMarkOf, outcomeUnknownOf } from '../../errors/database-error-marks';
import type { ResilienceEvent } from '../../events/resilience-event';
import { ResilienceEvents } from '../../events/resilience-events';
import { resolveOptions } from '../../options/options.schema';
import { newConnectionState, type ConnectionState } from './connection-state';
import { fakeConnection } from './fake-connection.spec-support';
import { StatementGuard } from './statement-guard';
import { StatementReporter } from '../statement-reporter';
import { Watchdog } from '../watchdog';

describe('StatementGuard (a connection without a server)', () => {
  const options = resolveOptions({});
  let watchdog: Watchdog;
  let events: ResilienceEvent[];
  let killed: Array<number | null>;
  let guard: StatementGuard;
  beforeEach(() => {
    watchdog = new Watchdog(10);
    events = [];
    killed = [];
    const bus = new ResilienceEvents();
    bus.subscribe((event) => events.push(event), { queries: true });
    const classifier = new ErrorClassifier();
    const reporter = new StatementReporter(
      'default',
      classifier,
      new CircuitBreaker('default', options.circuitBreaker),
      bus,
      1000,
    );
    guard = new StatementGuard('default', 100, watchdog, reporter, classifier, (id) => void killed.push(id));
  });
  afterEach(() => watchdog.stop());

  const stateOf = (connection: ReturnType<typeof fakeConnection>): ConnectionState =>
    newConnectionState('primary', connection.query, () => guard.expireRunning(connection, state));
  let state: ConnectionState;
  const send = (connection: ReturnType<typeof fakeConnection>, sql: string) =>
    new Promise<{ error: unknown; rows: unknown }>((resolve) =>
      guard.run(connection, state, connection.query, [
        sql,
        (error: unknown, rows: unknown) => resolve({ error, rows }),
      ]),
    );

  it('passes a statement through and times it', async () => {
    const connection = fakeConnection(() => ({ rows: [{ ok: 1 }] }));
    state = stateOf(connection);
    await expect(send(connection, 'SELECT 1')).resolves.toEqual({ error: null, rows: [{ ok: 1 }] });
    expect(events).toEqual([expect.objectContaining({ type: 'query', kind: 'read', failed: false })]);
  });

  it("COMMIT on a hung server under a caller's deadline: given up at the deadline, outcome unknown, connection destroyed, KILL sent", async () => {
    const connection = fakeConnection(() => undefined); // never answers
    state = stateOf(connection);
    const { error } = await unitOfWork.run(
      { database: 'default', operation: 'op', deadline: { at: Date.now() + 50, ms: 50 } },
      () => send(connection, 'COMMIT'),
    );
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(outcomeUnknownOf(error)).toEqual({ threadId: 42 });
    expect(connection.calls.destroyed).toBe(1);
    expect(killed).toEqual([42]);
    expect(state.doomed).toBe(true);
    expect(connection.calls.queries).toEqual(['COMMIT']); // no server-side limit on COMMIT: the client's timer
  });

  it('START TRANSACTION is bounded by the default timeout too (queries.timeoutMs), and is not ambiguous', async () => {
    const connection = fakeConnection(() => undefined);
    state = stateOf(connection);
    const { error } = await send(connection, 'START TRANSACTION');
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(outcomeUnknownOf(error)).toBeUndefined();
    expect(databaseErrorMarkOf(error)?.category).toBe('statement_timeout');
    expect(connection.calls.destroyed).toBe(1);
  });

  it('an autocommit write lost: recorded as an unknown outcome, never as a plain lost connection', async () => {
    const lost = Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
    const connection = fakeConnection(() => ({ error: lost }));
    state = stateOf(connection);
    const { error } = await send(connection, 'INSERT INTO t VALUES (1)');
    expect(databaseErrorMarkOf(error)?.category).toBe('commit_outcome_unknown');
    const recorded = events.find((e) => e.type === 'attempt-failed');
    expect(recorded).toMatchObject({ error: { category: 'commit_outcome_unknown' } });
  });
});
