import type { DataSource } from 'typeorm';
import { ErrorClassifier } from '../libs/database-resilience/src/classification/error-classifier';
import { CircuitBreaker } from '../libs/database-resilience/src/circuit-breaker/circuit-breaker';
import { ResilienceEvents } from '../libs/database-resilience/src/events/resilience-events';
import { QueryDurationHistogram } from '../libs/database-resilience/src/metrics/query-duration.histogram';
import { resolveOptions } from '../libs/database-resilience/src/options/options.schema';
import type { DatabaseResilienceOptions } from '../libs/database-resilience/src/options/database-resilience-options';
import { mysqlEngine } from '../libs/database-resilience/src/engines/mysql/mysql-engine';
import type { Mysql2Connection } from '../libs/database-resilience/src/engines/mysql/mysql2-connection';
import { measure, type BenchTable } from './bench-table';

type Callback = (error: unknown, ...results: unknown[]) => void;

/**
 * A TypeORM MysqlDriver over a pool of one connection that answers every statement on the next tick: no I/O,
 * so that what is timed is the code on the way, not the network or the server.
 */
function fakeDriver() {
  const connection: Mysql2Connection = {
    threadId: 1,
    query: (...args: unknown[]) => process.nextTick(args[args.length - 1] as Callback, null, [{ 1: 1 }], []),
    release: () => pool._freeConnections.push(connection),
    destroy: () => undefined,
  };
  const pool = {
    _freeConnections: [connection],
    getConnection: (callback: Callback) => process.nextTick(callback, null, pool._freeConnections.pop()),
  };
  return {
    pool,
    options: {},
    prepareDbConnection: (c: Mysql2Connection) => c,
    obtainMasterConnection: () =>
      new Promise<Mysql2Connection>((ok, fail) =>
        pool.getConnection((error, c) => (error ? fail(error) : ok(c as Mysql2Connection))),
      ),
    obtainSlaveConnection(): Promise<Mysql2Connection> {
      return this.obtainMasterConnection();
    },
  };
}

/** What TypeORM does for `dataSource.query('SELECT 1')`: a connection, the statement, back to the pool. */
async function statement(driver: ReturnType<typeof fakeDriver>): Promise<void> {
  const connection = await driver.obtainMasterConnection();
  await new Promise((resolve, reject) =>
    connection.query('SELECT 1', [], (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows))),
  );
  connection.release();
}

/**
 * The connection guard's own cost per statement, as forRoot() sets it up (breaker admission, the default
 * statement timeout, timing into the query-duration histogram), on a driver that does no I/O. The HTTP
 * benchmark's request runs one such statement: this is the module's share of it, without the noise of a
 * 2-core VM that also runs MariaDB.
 */
export async function guardOverheadBench(): Promise<BenchTable> {
  const events = new ResilienceEvents();
  const histogram = QueryDurationHistogram.shared();
  events.subscribe(
    (event) => {
      if (event.type === 'query') histogram.of(event.database, event.kind).observe(event.durationMs / 1000);
    },
    { queries: true },
  );
  const guarded = (options: DatabaseResilienceOptions) => {
    const driver = fakeDriver();
    const resolved = resolveOptions(options);
    const guard = mysqlEngine.guard({ driver, options: { type: 'mysql' } } as unknown as DataSource, 'default', {
      options: resolved,
      classifier: new ErrorClassifier(),
      breaker: new CircuitBreaker('default', resolved.circuitBreaker),
      events,
    });
    return { driver, guard };
  };
  const bare = fakeDriver();
  const plain = guarded({});
  const limited = guarded({ concurrencyLimit: { enabled: true } });
  try {
    return await measure(
      'The connection guard per statement (a driver without I/O; target: a small share of the HTTP request below)',
      [
        ['bare TypeORM path: connection, statement, release (baseline)', () => statement(bare)],
        ['the same through the guard, as forRoot() sets it up', () => statement(plain.driver)],
        ['the same with concurrencyLimit on (under its limit)', () => statement(limited.driver)],
      ],
      {
        batch: 200,
        notes: [
          'Guard as forRoot() installs it: breaker admission, pool wait and default statement timeout watched, ' +
            "statement timed into db_resilience_query_duration_seconds. The difference is the module's own work on " +
            "each statement; compare it with the app's CPU per request in the HTTP table. Run after the benchmarks " +
            'above, with an AsyncLocalStorage in use in the process, which on Node 20 and 22 makes every promise dearer (on Node 24 each run() costs instead). ' +
            'With concurrencyLimit on, each borrow is also counted in and out of the limit and its time sampled.',
        ],
      },
    );
  } finally {
    plain.guard.dispose();
    limited.guard.dispose();
  }
}
