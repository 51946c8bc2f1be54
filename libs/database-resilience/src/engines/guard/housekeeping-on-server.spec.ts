import { ErrorClassifier } from '../../classification/error-classifier';
import { FakeAdapter, type Answer, type FakeConnection } from './fake-adapter.spec-support';
import { Housekeeping } from './housekeeping';

const lost = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

/** Housekeeping over fake connections, each reaching the server `serverOf` names (as it says for itself). */
function housekeepingOver(
  serverOf: (c: FakeConnection) => string,
  answer?: (sql: string, on: FakeConnection) => Answer,
) {
  const adapter = new FakeAdapter();
  adapter.serverOf = serverOf;
  adapter.primary.answer = (sql, on) =>
    answer?.(sql, on) ?? (sql === 'SERVER NAME' ? { rows: [{ name: serverOf(on) }] } : { rows: [] });
  const housekeeping = new Housekeeping(
    'default',
    adapter,
    new ErrorClassifier(),
    2_000,
    () => undefined,
    () => true,
  );
  const stopsOf99 = () => adapter.primary.sentBy.filter(({ sql }) => sql === 'STOP 99').map(({ id }) => id);
  return { adapter, housekeeping, stopsOf99 };
}

/**
 * Behind a balancing endpoint the pool's connections reach several servers, and session 99 of server A is
 * somebody else's session on server B: what acts on it by its id goes to A, or nowhere.
 */
describe('Housekeeping.onServer: statements for one server only', () => {
  it('uses the pooled connection when it reaches the server; else one of its own, the pooled one given back', async () => {
    const { adapter, housekeeping, stopsOf99 } = housekeepingOver((c) => (c.id % 2 ? 'B' : 'A'));
    await housekeeping.onServer('A', (run) => run('STOP 99'));
    expect(stopsOf99()).toEqual([2]); // #1 (pooled) is on B; #2, opened by the module, on A
    expect(adapter.primary.idle.map(({ id }) => id)).toEqual([1]); // its own one closed, not pooled

    await housekeeping.onServer('B', (run) => run('STOP 99'));
    expect(stopsOf99()).toEqual([2, 1]); // the pooled one this time
  });

  it('sends nothing when no connection reaches the server, and fails', async () => {
    const { adapter, housekeeping, stopsOf99 } = housekeepingOver(() => 'B');
    await expect(housekeeping.onServer('A', (run) => run('STOP 99'))).rejects.toThrow("reaches the session's server");
    expect(stopsOf99()).toEqual([]);
    expect(adapter.primary.created).toBe(17); // the pooled one, and the 16 it opened of its own
    expect(adapter.primary.idle.map(({ id }) => id)).toEqual([1]);
  });

  it('starts again on a connection of its own when the pooled one to the server is found dead', async () => {
    const { adapter, housekeeping, stopsOf99 } = housekeepingOver(
      () => 'A',
      (sql, on) => (sql === 'STOP 99' && on.id === 1 ? { error: lost() } : undefined), // dead since A restarted
    );
    await housekeeping.onServer('A', (run) => run('STOP 99'));
    expect(stopsOf99()).toEqual([1, 2]);
    expect(adapter.primary.idle).toEqual([]); // the dead one discarded, its own one closed
  });

  it('stopStatement sends nothing for a session whose id or server is unknown', async () => {
    const { adapter, housekeeping } = housekeepingOver(() => 'A');
    housekeeping.stopStatement({ id: undefined, server: 'A', pooled: true });
    housekeeping.stopStatement({ id: 99, server: undefined, pooled: false });
    housekeeping.stopStatement(undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(adapter.primary.sent).toEqual([]);
  });
});
