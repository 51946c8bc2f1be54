import type { Mysql2Connection } from './mysql2-connection';

/**
 * A mysql2 connection without a server, for the guard's unit specs: statements are answered by `answer` (or
 * never, while it returns undefined), and every call is kept.
 */
export function fakeConnection(
  answer: (sql: string) => { error?: unknown; rows?: unknown } | undefined = () => ({ rows: [] }),
  overrides: Partial<Mysql2Connection> = {},
) {
  const calls = { queries: [] as string[], released: 0, destroyed: 0, pings: 0 };
  const connection: Mysql2Connection & { calls: typeof calls } = {
    threadId: 42,
    calls,
    query(...args: unknown[]) {
      const first = args[0] as string | { sql: string };
      const sql = typeof first === 'string' ? first : first.sql;
      calls.queries.push(sql);
      const callback = args[args.length - 1] as (error: unknown, rows?: unknown) => void;
      const result = answer(sql);
      if (result) setImmediate(() => callback(result.error ?? null, result.rows));
      return undefined;
    },
    release: () => void calls.released++,
    destroy: () => void calls.destroyed++,
    ping: () => void calls.pings++, // never answers
    ...overrides,
  };
  return connection;
}
