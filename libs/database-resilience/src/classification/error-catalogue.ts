import { ErrorCategory as C } from './error-category.enum';
import { RecoveryAction as A } from './recovery-action.enum';
import { RetryScope as S } from './retry-scope.enum';
import { Severity as V } from './severity.enum';
import {
  data,
  deadlock,
  denied,
  entry,
  exhausted,
  integrity,
  lost,
  overload,
  readOnly,
  schema,
  syntax,
  UNKNOWN_ENTRY,
  type CatalogueEntry,
} from './catalogue-entry';

export { UNKNOWN_ENTRY, type CatalogueEntry };

/** Server errors by errno. An errno may have several entries when MySQL and MariaDB disagree; the first whose
 *  `message` matches (or that has none) wins. mysql2 names codes after MySQL 8.0, so MariaDB-only errnos
 *  (1900-1999, part of the 4000s) arrive without a `code`: the errno is the key. */
export const ERRNO_CATALOGUE: ReadonlyMap<number, readonly CatalogueEntry[]> = new Map<number, CatalogueEntry[]>([
  // Concurrency: the server rolled back; re-run the whole unit of work.
  [149, [deadlock('HA_ERR_LOCK_DEADLOCK')]], // Galera certification conflict
  [1213, [deadlock('ER_LOCK_DEADLOCK')]],
  [1614, [deadlock('ER_XA_RBDEADLOCK')]],
  [3101, [deadlock('ER_TRANSACTION_ROLLBACK_DURING_COMMIT')]], // Group Replication conflict
  [1205, [entry('ER_LOCK_WAIT_TIMEOUT', C.LOCK_TIMEOUT, V.HIGH, A.RETRY, S.TRANSACTION)]],
  [3572, [entry('ER_LOCK_NOWAIT', C.LOCK_TIMEOUT, V.HIGH, A.RETRY, S.TRANSACTION)]], // MySQL 8 only
  [1637, [entry('ER_TOO_MANY_CONCURRENT_TRXS', C.OVERLOAD, V.HIGH, A.RETRY, S.TRANSACTION)]],
  // COMMIT failed inside the engine: it may or may not have committed.
  [
    1180,
    [
      // Galera: a node out of the primary component cannot replicate the write-set; nothing was committed.
      entry('WSREP_NOT_PRIMARY', C.CONNECTION, V.HIGH, A.FAILOVER, S.CONNECTION, { message: /primary component/i }),
      entry('ER_ERROR_DURING_COMMIT', C.COMMIT_OUTCOME_UNKNOWN, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER),
    ],
  ],
  [1181, [lost('ER_ERROR_DURING_ROLLBACK', V.HIGH)]],
  // Overload: nothing ran; back off, count toward the breaker.
  [1040, [overload('ER_CON_COUNT_ERROR')]],
  [1203, [overload('ER_TOO_MANY_USER_CONNECTIONS')]],
  [1226, [overload('ER_USER_LIMIT_REACHED')]],
  [1135, [overload('ER_CANT_CREATE_THREAD')]],
  // Access and setup: nothing a retry can fix.
  [1045, [denied('ER_ACCESS_DENIED_ERROR')]],
  [1044, [denied('ER_DBACCESS_DENIED_ERROR')]],
  [1129, [denied('ER_HOST_IS_BLOCKED')]],
  [1130, [denied('ER_HOST_NOT_PRIVILEGED')]],
  [1142, [denied('ER_TABLEACCESS_DENIED_ERROR')]],
  [1143, [denied('ER_COLUMNACCESS_DENIED_ERROR')]],
  [1227, [denied('ER_SPECIFIC_ACCESS_DENIED_ERROR')]],
  [1049, [entry('ER_BAD_DB_ERROR', C.CONFIGURATION, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER)]],
  // The connection went away: new connection, then the whole unit of work (unless COMMIT was already sent).
  [1053, [lost('ER_SERVER_SHUTDOWN')]],
  [1927, [lost('ER_CONNECTION_KILLED')]], // MariaDB only; mysql2 gives it no code
  [1152, [lost('ER_ABORTING_CONNECTION', V.HIGH)]],
  [1184, [lost('ER_NEW_ABORTING_CONNECTION', V.HIGH)]],
  [1158, [lost('ER_NET_READ_ERROR')]],
  [1159, [lost('ER_NET_READ_INTERRUPTED')]],
  [1160, [lost('ER_NET_ERROR_ON_WRITE')]],
  [1161, [lost('ER_NET_WRITE_INTERRUPTED')]],
  [1047, [entry('ER_UNKNOWN_COM_ERROR', C.CONNECTION, V.HIGH, A.FAILOVER, S.CONNECTION)]], // Galera node not ready
  [
    4031,
    [
      // MySQL >= 8.0.24: the idle session was closed after wait_timeout. MariaDB: a trigger error.
      entry('ER_CLIENT_INTERACTION_TIMEOUT', C.CONNECTION, V.LOW, A.RECONNECT, S.CONNECTION, {
        message: /inactivity|interaction|disconnected by the server|^$/i,
      }),
      schema('ER_REFERENCED_TRG_DOES_NOT_EXIST'),
    ],
  ],
  // Deadlines.
  [1317, [entry('ER_QUERY_INTERRUPTED', C.INTERRUPTED, V.MEDIUM, A.MANUAL_INTERVENTION, S.NEVER)]],
  [3024, [entry('ER_QUERY_TIMEOUT', C.STATEMENT_TIMEOUT, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER)]], // MySQL
  [1969, [entry('ER_STATEMENT_TIMEOUT', C.STATEMENT_TIMEOUT, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER)]], // MariaDB
  // Read-only server: a demoted primary or stale DNS after a failover. The connection must go.
  [1290, [readOnly('ER_OPTION_PREVENTS_STATEMENT')]],
  [1836, [readOnly('ER_READ_ONLY_MODE')]],
  [1874, [readOnly('ER_INNODB_READ_ONLY')]],
  [1792, [readOnly('ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION')]], // transaction_read_only set on the server
  // Integrity.
  [1062, [integrity('ER_DUP_ENTRY')]],
  [1169, [integrity('ER_DUP_UNIQUE')]],
  [1557, [integrity('ER_FOREIGN_DUPLICATE_KEY')]],
  [1451, [integrity('ER_ROW_IS_REFERENCED_2')]],
  [1452, [integrity('ER_NO_REFERENCED_ROW_2')]],
  [1216, [integrity('ER_NO_REFERENCED_ROW')]],
  [1217, [integrity('ER_ROW_IS_REFERENCED')]],
  [3819, [integrity('ER_CHECK_CONSTRAINT_VIOLATED')]], // MySQL
  [4025, [integrity('ER_CONSTRAINT_FAILED')]], // MariaDB
  // Data.
  [1048, [data('ER_BAD_NULL_ERROR')]],
  [1364, [data('ER_NO_DEFAULT_FOR_FIELD')]],
  [1406, [data('ER_DATA_TOO_LONG')]],
  [1264, [data('ER_WARN_DATA_OUT_OF_RANGE')]],
  [1265, [data('WARN_DATA_TRUNCATED')]],
  [1292, [data('ER_TRUNCATED_WRONG_VALUE')]],
  [1366, [data('ER_TRUNCATED_WRONG_VALUE_FOR_FIELD')]],
  [1411, [data('ER_WRONG_VALUE_FOR_TYPE')]],
  // Schema drift and bad SQL.
  [1146, [schema('ER_NO_SUCH_TABLE')]],
  [1054, [schema('ER_BAD_FIELD_ERROR')]],
  [1051, [schema('ER_BAD_TABLE_ERROR')]],
  [1050, [schema('ER_TABLE_EXISTS_ERROR')]],
  [1215, [schema('ER_CANNOT_ADD_FOREIGN')]],
  [1064, [syntax('ER_PARSE_ERROR')]],
  [1136, [syntax('ER_WRONG_VALUE_COUNT_ON_ROW')]],
  [1149, [syntax('ER_SYNTAX_ERROR')]],
  // Exhaustion.
  [1114, [exhausted('ER_RECORD_FILE_FULL')]],
  [1021, [exhausted('ER_DISK_FULL')]],
  [1206, [exhausted('ER_LOCK_TABLE_FULL')]],
  [1037, [exhausted('ER_OUTOFMEMORY', S.TRANSACTION)]],
  [1038, [exhausted('ER_OUT_OF_SORTMEMORY', S.TRANSACTION)]],
  [1041, [exhausted('ER_OUT_OF_RESOURCES', S.TRANSACTION)]],
]);

/** Client-side codes: Node socket errors and mysql2's own. */
/** The module's own decisions: they say nothing of how the server is doing. */
const NOT_THE_SERVERS = { serverUnwell: false };

export const CODE_CATALOGUE: ReadonlyMap<string, CatalogueEntry> = new Map([
  // Nothing was sent: safe to retry on a new connection; the server is unreachable.
  ['ECONNREFUSED', entry('ECONNREFUSED', C.CONNECTION, V.CRITICAL, A.CIRCUIT_BREAK, S.CONNECTION)],
  ['ENOTFOUND', entry('ENOTFOUND', C.CONNECTION, V.CRITICAL, A.CIRCUIT_BREAK, S.CONNECTION)],
  ['EAI_AGAIN', entry('EAI_AGAIN', C.CONNECTION, V.CRITICAL, A.CIRCUIT_BREAK, S.CONNECTION)],
  ['EHOSTUNREACH', entry('EHOSTUNREACH', C.CONNECTION, V.CRITICAL, A.CIRCUIT_BREAK, S.CONNECTION)],
  ['ENETUNREACH', entry('ENETUNREACH', C.CONNECTION, V.CRITICAL, A.CIRCUIT_BREAK, S.CONNECTION)],
  ['ETIMEDOUT', entry('ETIMEDOUT', C.CONNECTION, V.CRITICAL, A.RECONNECT, S.CONNECTION)],
  // The socket died under a command: a new connection; ambiguous if the command was COMMIT.
  ['ECONNRESET', lost('ECONNRESET')],
  ['EPIPE', lost('EPIPE')],
  ['PROTOCOL_CONNECTION_LOST', lost('PROTOCOL_CONNECTION_LOST')],
  ['PROTOCOL_PACKETS_OUT_OF_ORDER', lost('PROTOCOL_PACKETS_OUT_OF_ORDER')],
  ['ERR_SOCKET_CLOSED', lost('ERR_SOCKET_CLOSED')],
  // mysql2's client-side `timeout`: the server goes on executing, so a write may still commit.
  [
    'PROTOCOL_SEQUENCE_TIMEOUT',
    entry('PROTOCOL_SEQUENCE_TIMEOUT', C.STATEMENT_TIMEOUT, V.HIGH, A.RECONNECT, S.NEVER, { serverUnwell: true }),
  ],
  // The module's own errors.
  // COMMIT was answered ROLLBACK (PostgreSQL): an error inside the transaction was caught; nothing was written.
  [
    'TRANSACTION_ROLLED_BACK',
    entry('TRANSACTION_ROLLED_BACK', C.UNKNOWN, V.HIGH, A.MANUAL_INTERVENTION, S.NEVER, NOT_THE_SERVERS),
  ],
  ['CIRCUIT_OPEN', entry('CIRCUIT_OPEN', C.CIRCUIT_OPEN, V.HIGH, A.CIRCUIT_BREAK, S.NEVER)],
  ['POOL_ACQUIRE_TIMEOUT', entry('POOL_ACQUIRE_TIMEOUT', C.OVERLOAD, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER)],
  // Shed by the adaptive limit in front of the pool: the module's decision, made before the server was asked.
  ['CONCURRENCY_LIMIT', entry('CONCURRENCY_LIMIT', C.OVERLOAD, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER, NOT_THE_SERVERS)],
  // The retry budget refused a retry: the failure inside was already counted where it happened.
  [
    'RETRY_BUDGET_EXHAUSTED',
    entry('RETRY_BUDGET_EXHAUSTED', C.OVERLOAD, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER, NOT_THE_SERVERS),
  ],
  // The caller went away (or aborted its signal): the module stopped the statement; nothing about the server.
  [
    'REQUEST_CANCELLED',
    entry('REQUEST_CANCELLED', C.INTERRUPTED, V.LOW, A.MANUAL_INTERVENTION, S.NEVER, NOT_THE_SERVERS),
  ],
  [
    'DEADLINE_EXCEEDED',
    // Not by itself a sign of an unwell server (a lock held long, a queue for the pool): the engine's guard counts
    // a statement past its deadline when the server answered nothing meanwhile (statement-reporter.ts).
    entry('DEADLINE_EXCEEDED', C.STATEMENT_TIMEOUT, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER, NOT_THE_SERVERS),
  ],
  [
    'COMMIT_OUTCOME_UNKNOWN',
    entry('COMMIT_OUTCOME_UNKNOWN', C.COMMIT_OUTCOME_UNKNOWN, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER),
  ],
  // The scheduled health check got no answer in time: the server is hung or unreachable.
  [
    'HEALTH_CHECK_TIMEOUT',
    entry('HEALTH_CHECK_TIMEOUT', C.CONNECTION, V.CRITICAL, A.CIRCUIT_BREAK, S.NEVER, { serverUnwell: true }),
  ],
  ['POOL_NOEXIST', entry('POOL_NOEXIST', C.CONNECTION, V.CRITICAL, A.FAILOVER, S.CONNECTION)],
  ['POOL_NONEONLINE', entry('POOL_NONEONLINE', C.CONNECTION, V.CRITICAL, A.FAILOVER, S.CONNECTION)],
]);

/** mysql2 errors that have neither code nor errno: recognised by their exact wording. */
export const UNCODED_MESSAGE_CATALOGUE: ReadonlyArray<readonly [RegExp, CatalogueEntry]> = [
  [/^Can't add new command when connection is in closed state/, lost('CONNECTION_CLOSED_STATE')],
  [/^Pool is closed\.?$/, entry('POOL_CLOSED', C.CONNECTION, V.HIGH, A.MANUAL_INTERVENTION, S.NEVER, NOT_THE_SERVERS)],
  [/^Queue limit reached\.?$/, entry('POOL_QUEUE_LIMIT', C.OVERLOAD, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER)],
  [/^No connections available\.?$/, entry('POOL_EXHAUSTED', C.OVERLOAD, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER)],
  // node-postgres and pg-pool (reference: postgres-facts §1.4). A session lost under a statement: the PostgreSQL
  // engine marks it "outcome unknown" when it was COMMIT or an autocommit write, so only the rest is retried.
  [/^Connection terminated due to connection timeout$/, lost('PG_CONNECT_TIMEOUT')],
  [
    /^timeout exceeded when trying to connect$/,
    entry('PG_POOL_TIMEOUT', C.OVERLOAD, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER),
  ],
  [/^Connection terminated( unexpectedly)?$/, lost('PG_CONNECTION_TERMINATED')],
  [/^Client (has encountered a connection error|was closed) and is not queryable$/, lost('PG_CLIENT_NOT_QUERYABLE')],
  // pg's client-side query_timeout: the server goes on executing (the engine ends the session).
  [
    /^Query read timeout$/,
    entry('PG_QUERY_READ_TIMEOUT', C.STATEMENT_TIMEOUT, V.HIGH, A.RECONNECT, S.NEVER, { serverUnwell: true }),
  ],
  // TypeORM, after the backend under a held QueryRunner died (the SQLSTATE is lost): the transaction is gone.
  [
    /^(Query runner already released|Database connection provided by a query runner was already released)/,
    lost('QUERY_RUNNER_RELEASED'),
  ],
];

/** SQLSTATE, used when neither errno nor code is known. Exact states first, then the two-character class. */
export const SQLSTATE_CATALOGUE: ReadonlyMap<string, CatalogueEntry> = new Map([
  ['40001', deadlock('SQLSTATE_40001')],
  ['40003', entry('SQLSTATE_40003', C.COMMIT_OUTCOME_UNKNOWN, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER)],
  // A standby or a demoted primary (PostgreSQL; MySQL's read-only errors arrive by errno): nothing was written, the
  // connection leads to a server that is no longer the writer. Evicted, and the unit re-run on a new connection
  // (a transaction the app itself declared READ ONLY gets the same answer: see docs/OPERATIONS.md).
  ['25006', readOnly('SQLSTATE_25006')],
  ['42S02', schema('SQLSTATE_42S02')],
  ['42S22', schema('SQLSTATE_42S22')],
  ['HY001', exhausted('SQLSTATE_HY001', S.TRANSACTION)],
  ['70100', entry('SQLSTATE_70100', C.INTERRUPTED, V.MEDIUM, A.MANUAL_INTERVENTION, S.NEVER)],
  // PostgreSQL (reference: postgres-facts §2). 40001 above is its serialization failure: the same retry.
  ['40P01', deadlock('PG_DEADLOCK_DETECTED')],
  ['55P03', entry('PG_LOCK_NOT_AVAILABLE', C.LOCK_TIMEOUT, V.HIGH, A.RETRY, S.TRANSACTION)],
  ['57014', entry('PG_QUERY_CANCELED', C.STATEMENT_TIMEOUT, V.HIGH, A.GRACEFUL_DEGRADE, S.NEVER)],
  // A consequence, never a cause: an earlier statement of the transaction failed (that is the error to fix).
  ['25P02', entry('PG_IN_FAILED_SQL_TRANSACTION', C.UNKNOWN, V.LOW, A.MANUAL_INTERVENTION, S.NEVER)],
  // At connect only (the server is starting or stopping): nothing was sent.
  ['57P03', entry('PG_CANNOT_CONNECT_NOW', C.CONNECTION, V.HIGH, A.RECONNECT, S.CONNECTION)],
  // A session ended under a statement (57P01 terminated or shut down, 57P02 crash of another backend, 25P03 idle
  // in transaction, 57P04 database dropped, 57P05 idle session, 08006 / 08P01 from a pooler): a new connection. The
  // PostgreSQL engine marks it "outcome unknown" when it was COMMIT or an autocommit write.
  ['57P01', lost('PG_ADMIN_SHUTDOWN', V.HIGH)],
  ['57P02', lost('PG_CRASH_SHUTDOWN')],
  ['57P04', lost('PG_DATABASE_DROPPED', V.HIGH)],
  ['57P05', lost('PG_IDLE_SESSION_TIMEOUT', V.LOW)],
  ['25P03', lost('PG_IDLE_IN_TRANSACTION_TIMEOUT', V.MEDIUM)],
  ['08006', lost('PG_CONNECTION_FAILURE', V.HIGH)],
  ['08P01', lost('PG_PROTOCOL_VIOLATION', V.HIGH)],
  ['53300', overload('PG_TOO_MANY_CONNECTIONS')],
  ['53100', exhausted('PG_DISK_FULL')],
  ['53200', exhausted('PG_OUT_OF_MEMORY', S.TRANSACTION)],
  ['28P01', denied('PG_INVALID_PASSWORD')],
  ['28000', denied('PG_INVALID_AUTHORIZATION')],
  ['23505', integrity('PG_UNIQUE_VIOLATION')],
  ['23503', integrity('PG_FOREIGN_KEY_VIOLATION')],
  ['23502', integrity('PG_NOT_NULL_VIOLATION')],
  ['23514', integrity('PG_CHECK_VIOLATION')],
  ['3D000', entry('PG_INVALID_CATALOG_NAME', C.CONFIGURATION, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER)],
  ['42P01', schema('PG_UNDEFINED_TABLE')],
  ['42703', schema('PG_UNDEFINED_COLUMN')],
  ['42883', schema('PG_UNDEFINED_FUNCTION')],
  ['42501', denied('PG_INSUFFICIENT_PRIVILEGE')],
]);

export const SQLSTATE_CLASS_CATALOGUE: ReadonlyMap<string, CatalogueEntry> = new Map([
  ['08', lost('SQLSTATE_CLASS_08')],
  ['23', integrity('SQLSTATE_CLASS_23')],
  ['22', data('SQLSTATE_CLASS_22')],
  ['28', denied('SQLSTATE_CLASS_28')],
  ['40', deadlock('SQLSTATE_CLASS_40')],
  ['42', syntax('SQLSTATE_CLASS_42')],
  ['0A', syntax('SQLSTATE_CLASS_0A')],
  ['53', exhausted('SQLSTATE_CLASS_53')],
  ['58', entry('SQLSTATE_CLASS_58', C.UNKNOWN, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER)],
  ['XX', entry('SQLSTATE_CLASS_XX', C.UNKNOWN, V.CRITICAL, A.MANUAL_INTERVENTION, S.NEVER)],
]);

/** The last resort, for errors with no code at all (a message some library built). */
export const MESSAGE_PATTERN_CATALOGUE: ReadonlyArray<readonly [RegExp, CatalogueEntry]> = [
  [/deadlock found|deadlock detected|transaction deadlock/i, deadlock('MESSAGE_DEADLOCK')],
  [/lock wait timeout/i, entry('MESSAGE_LOCK_WAIT_TIMEOUT', C.LOCK_TIMEOUT, V.HIGH, A.RETRY, S.TRANSACTION)],
  [/server has gone away|lost connection to (mysql )?server|connection lost/i, lost('MESSAGE_CONNECTION_LOST')],
  [/too many connections/i, overload('MESSAGE_TOO_MANY_CONNECTIONS')],
  [/access denied/i, denied('MESSAGE_ACCESS_DENIED')],
  [/read[- ]only/i, readOnly('MESSAGE_READ_ONLY')],
];

/** Server errors by mysql2's symbolic name, for errors that carry a code but lost their errno. */
export const NAMED_CATALOGUE: ReadonlyMap<string, CatalogueEntry> = new Map(
  [...ERRNO_CATALOGUE.values()].flatMap((entries) => entries.map((e) => [e.name, e] as const)),
);

/** Every (category, severity) pair an entry gives: the error series a Prometheus counter starts at zero. */
export function catalogueSeries(): Array<Pick<CatalogueEntry, 'category' | 'severity'>> {
  const entries = [
    UNKNOWN_ENTRY,
    ...NAMED_CATALOGUE.values(),
    ...CODE_CATALOGUE.values(),
    ...SQLSTATE_CATALOGUE.values(),
    ...SQLSTATE_CLASS_CATALOGUE.values(),
    ...[...UNCODED_MESSAGE_CATALOGUE, ...MESSAGE_PATTERN_CATALOGUE].map(([, e]) => e),
  ];
  const pairs = new Map(entries.map(({ category, severity }) => [`${category}/${severity}`, { category, severity }]));
  return [...pairs.values()];
}
