import type { DatabaseEngineName } from '../../../../libs/shared/src/database-env';

/** The few statements the scenarios say differently on MySQL/MariaDB and on PostgreSQL. */
export interface ScenarioSql {
  /** `?` placeholders as the engine takes them (`$1, $2…` on PostgreSQL). */
  params(text: string): string;
  quote(identifier: string): string;
  dropDatabase(name: string): string;
  /** One row `{ id }`: the session's own id. */
  sessionId: string;
  /** Rows `{ id }`: the other client sessions on `database`. */
  otherSessions(database: string): string;
  /** Ends another session (and its transaction) at once. */
  kill(id: number): string;
  /** Sleeps `seconds` on the server, tagged so that {@link running} finds it. */
  sleep(seconds: number, tag: string): string;
  /** One row `{ n }`: how many other sessions run a statement that carries `tag`. */
  running(tag: string): string;
  /** Inside a transaction: give up a row lock after one second (MySQL 1205, PostgreSQL 55P03). */
  shortLockWait: string;
  /** The error a lock wait that gave up raises, as the classifier names it. */
  lockWaitError: string;
}

const MYSQL: ScenarioSql = {
  params: (text) => text,
  quote: (identifier) => `\`${identifier}\``,
  dropDatabase: (name) => `DROP DATABASE IF EXISTS \`${name}\``,
  sessionId: 'SELECT CONNECTION_ID() AS id',
  otherSessions: (database) =>
    `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '${database}' AND ID <> CONNECTION_ID()`,
  kill: (id) => `KILL CONNECTION ${Number(id)}`,
  sleep: (seconds, tag) => `SELECT SLEEP(${Number(seconds)}) AS ${tag}`,
  running: (tag) =>
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%${tag}%' AND ID <> CONNECTION_ID()`,
  shortLockWait: 'SET SESSION innodb_lock_wait_timeout = 1',
  lockWaitError: '1205',
};

const POSTGRES: ScenarioSql = {
  params: (text) => {
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  },
  quote: (identifier) => `"${identifier}"`,
  // FORCE: a session a scenario left behind (a killed client's) must not keep the scratch database.
  dropDatabase: (name) => `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`,
  sessionId: 'SELECT pg_backend_pid() AS id',
  otherSessions: (database) =>
    `SELECT pid AS id FROM pg_stat_activity WHERE datname = '${database}' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
  kill: (id) => `SELECT pg_terminate_backend(${Number(id)})`,
  sleep: (seconds, tag) => `SELECT pg_sleep(${Number(seconds)}) AS ${tag}`,
  running: (tag) =>
    `SELECT COUNT(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%${tag}%' AND pid <> pg_backend_pid()`,
  shortLockWait: "SET LOCAL lock_timeout = '1s'",
  lockWaitError: '55P03',
};

export function scenarioSqlFor(engine: DatabaseEngineName): ScenarioSql {
  return engine === 'postgres' ? POSTGRES : MYSQL;
}
