import { ServerSessions, type SessionAsk } from './server-sessions';

describe('ServerSessions: each connection asked once which session it is, and on which server', () => {
  const answering = (row: Record<string, unknown> | undefined, error?: unknown): SessionAsk & { asked: string[] } => {
    const asked: string[] = [];
    const ask = ((sql, answer) => {
      asked.push(sql);
      setImmediate(() => answer(error, row));
    }) as SessionAsk & { asked: string[] };
    ask.asked = asked;
    return ask;
  };
  const learned = (
    sessions: ServerSessions<object>,
    connection: object,
    driverId: number | undefined,
    ask: SessionAsk,
  ) => new Promise<void>((then) => sessions.learn(connection, driverId, ask, then));

  it("trusts the driver's id where the server confirms it, and knows the server", async () => {
    const sessions = new ServerSessions<object>('SESSION');
    const connection = {};
    const ask = answering({ id: 12, server: 'db-1:3306' });
    await learned(sessions, connection, 12, ask);
    expect(sessions.of(connection)).toEqual({ id: 12, server: 'db-1:3306', pooled: false });
    await learned(sessions, connection, 12, ask);
    expect(ask.asked).toEqual(['SESSION']); // once per connection, not per borrow
  });

  it("behind a pooler the driver's id is not the server's: no id, still the server", async () => {
    const sessions = new ServerSessions<object>('SESSION');
    const connection = {};
    await learned(sessions, connection, 1114748619, answering({ id: '22977', server: 'db-1:5432' }));
    expect(sessions.of(connection)).toEqual({ id: undefined, server: 'db-1:5432', pooled: true });
  });

  it('a check that fails, or a connection that throws, is lent all the same, its session unknown', async () => {
    const sessions = new ServerSessions<object>('SESSION');
    const failed = {};
    await learned(sessions, failed, 3, answering(undefined, new Error('ECONNRESET')));
    expect(sessions.of(failed)).toBeUndefined();
    const ended = {};
    await learned(sessions, ended, 3, () => {
      throw new Error('Client was closed');
    });
    expect(sessions.of(ended)).toBeUndefined();
  });
});
