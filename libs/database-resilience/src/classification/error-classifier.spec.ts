import { QueryFailedError } from 'typeorm';
import { ErrorCategory } from './error-category.enum';
import { ERRNO_CATALOGUE } from './error-catalogue';
import { ErrorClassifier } from './error-classifier';
import { RecoveryAction } from './recovery-action.enum';
import { RetryScope } from './retry-scope.enum';
import { Severity } from './severity.enum';

/** An error shaped the way mysql2 builds server errors. */
function serverError(errno: number, code: string | undefined, sqlState: string, message: string): Error {
  return Object.assign(new Error(message), { errno, code, sqlState, sqlMessage: message, fatal: undefined });
}

/** A Node socket error the way mysql2 passes it on. */
function socketError(code: string, message = `connect ${code} 127.0.0.1:3306`): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: 'connect', fatal: true });
}

describe('ErrorClassifier', () => {
  const classifier = new ErrorClassifier();

  it.each([
    [
      1213,
      'ER_LOCK_DEADLOCK',
      '40001',
      ErrorCategory.DEADLOCK,
      Severity.HIGH,
      RecoveryAction.RETRY,
      RetryScope.TRANSACTION,
    ],
    [
      1205,
      'ER_LOCK_WAIT_TIMEOUT',
      'HY000',
      ErrorCategory.LOCK_TIMEOUT,
      Severity.HIGH,
      RecoveryAction.RETRY,
      RetryScope.TRANSACTION,
    ],
    [
      1062,
      'ER_DUP_ENTRY',
      '23000',
      ErrorCategory.INTEGRITY,
      Severity.MEDIUM,
      RecoveryAction.MANUAL_INTERVENTION,
      RetryScope.NEVER,
    ],
    [
      1452,
      'ER_NO_REFERENCED_ROW_2',
      '23000',
      ErrorCategory.INTEGRITY,
      Severity.MEDIUM,
      RecoveryAction.MANUAL_INTERVENTION,
      RetryScope.NEVER,
    ],
    [
      1406,
      'ER_DATA_TOO_LONG',
      '22001',
      ErrorCategory.DATA,
      Severity.MEDIUM,
      RecoveryAction.MANUAL_INTERVENTION,
      RetryScope.NEVER,
    ],
    [
      1045,
      'ER_ACCESS_DENIED_ERROR',
      '28000',
      ErrorCategory.AUTHENTICATION,
      Severity.CRITICAL,
      RecoveryAction.MANUAL_INTERVENTION,
      RetryScope.NEVER,
    ],
    [
      1053,
      'ER_SERVER_SHUTDOWN',
      '08S01',
      ErrorCategory.CONNECTION,
      Severity.CRITICAL,
      RecoveryAction.RECONNECT,
      RetryScope.CONNECTION,
    ],
    [
      1040,
      'ER_CON_COUNT_ERROR',
      '08004',
      ErrorCategory.OVERLOAD,
      Severity.HIGH,
      RecoveryAction.CIRCUIT_BREAK,
      RetryScope.CONNECTION,
    ],
    [
      1290,
      'ER_OPTION_PREVENTS_STATEMENT',
      'HY000',
      ErrorCategory.READ_ONLY,
      Severity.HIGH,
      RecoveryAction.FAILOVER,
      RetryScope.CONNECTION,
    ],
    [
      1021,
      'ER_DISK_FULL',
      'HY000',
      ErrorCategory.RESOURCE,
      Severity.HIGH,
      RecoveryAction.MANUAL_INTERVENTION,
      RetryScope.NEVER,
    ],
    [
      1037,
      'ER_OUTOFMEMORY',
      'HY001',
      ErrorCategory.RESOURCE,
      Severity.HIGH,
      RecoveryAction.RETRY,
      RetryScope.TRANSACTION,
    ],
    [
      1180,
      'ER_ERROR_DURING_COMMIT',
      'HY000',
      ErrorCategory.COMMIT_OUTCOME_UNKNOWN,
      Severity.CRITICAL,
      RecoveryAction.MANUAL_INTERVENTION,
      RetryScope.NEVER,
    ],
    [
      3024,
      'ER_QUERY_TIMEOUT',
      'HY000',
      ErrorCategory.STATEMENT_TIMEOUT,
      Severity.HIGH,
      RecoveryAction.GRACEFUL_DEGRADE,
      RetryScope.NEVER,
    ],
  ])('classifies errno %i (%s)', (errno, code, sqlState, category, severity, action, scope) => {
    const result = classifier.classify(serverError(errno, code, sqlState, 'some message'));
    expect(result).toMatchObject({ category, severity, action, scope, errno, code, sqlState, matchedBy: 'errno' });
    expect(result.retryable).toBe(scope !== RetryScope.NEVER);
  });

  it('has an entry for every errno of the facts catalogue, MySQL and MariaDB', () => {
    const facts = [
      1213, 1205, 3572, 1614, 3101, 1637, 1180, 1181, 1040, 1203, 1129, 1130, 1045, 1044, 1049, 1053, 1927, 1317, 3024,
      1969, 4031, 1158, 1159, 1160, 1161, 1152, 1184, 1047, 1290, 1836, 1874, 1792, 1062, 1451, 1452, 1048, 1406, 1264,
      1366, 1146, 1054, 1064, 1114, 1021, 1037, 1038,
    ];
    expect(facts.filter((errno) => !ERRNO_CATALOGUE.has(errno))).toEqual([]);
  });

  it('keys MariaDB-only errors on errno, since mysql2 gives them no code', () => {
    const killed = classifier.classify(serverError(1927, undefined, '70100', 'Connection was killed'));
    expect(killed).toMatchObject({
      category: ErrorCategory.CONNECTION,
      severity: Severity.CRITICAL,
      scope: RetryScope.CONNECTION,
    });
    const timeout = classifier.classify(
      serverError(1969, undefined, '70100', 'Query execution was interrupted (max_statement_time exceeded)'),
    );
    expect(timeout).toMatchObject({ category: ErrorCategory.STATEMENT_TIMEOUT, retryable: false });
  });

  it('tells MySQL 4031 (idle timeout) from MariaDB 4031 (trigger) by the message', () => {
    const mysql = classifier.classify(
      serverError(
        4031,
        'ER_CLIENT_INTERACTION_TIMEOUT',
        'HY000',
        'The client was disconnected by the server because of inactivity.',
      ),
    );
    const mariadb = classifier.classify(
      serverError(
        4031,
        undefined,
        'HY000',
        "Referenced trigger 'trg' for the given action time and event type does not exist",
      ),
    );
    expect(mysql.category).toBe(ErrorCategory.CONNECTION);
    expect(mariadb.category).toBe(ErrorCategory.SCHEMA);
  });

  it('reads the errno from the numeric code mysql2 gives errors on idle connections', () => {
    const idle = Object.assign(new Error('The client was disconnected by the server because of inactivity.'), {
      code: 4031,
    });
    expect(classifier.classify(idle)).toMatchObject({ errno: 4031, category: ErrorCategory.CONNECTION });
  });

  it.each([
    ['ECONNREFUSED', ErrorCategory.CONNECTION, Severity.CRITICAL, RecoveryAction.CIRCUIT_BREAK, RetryScope.CONNECTION],
    ['ECONNRESET', ErrorCategory.CONNECTION, Severity.CRITICAL, RecoveryAction.RECONNECT, RetryScope.CONNECTION],
    ['ETIMEDOUT', ErrorCategory.CONNECTION, Severity.CRITICAL, RecoveryAction.RECONNECT, RetryScope.CONNECTION],
    ['EPIPE', ErrorCategory.CONNECTION, Severity.CRITICAL, RecoveryAction.RECONNECT, RetryScope.CONNECTION],
    ['ENOTFOUND', ErrorCategory.CONNECTION, Severity.CRITICAL, RecoveryAction.CIRCUIT_BREAK, RetryScope.CONNECTION],
    [
      'PROTOCOL_CONNECTION_LOST',
      ErrorCategory.CONNECTION,
      Severity.CRITICAL,
      RecoveryAction.RECONNECT,
      RetryScope.CONNECTION,
    ],
    [
      'PROTOCOL_SEQUENCE_TIMEOUT',
      ErrorCategory.STATEMENT_TIMEOUT,
      Severity.HIGH,
      RecoveryAction.RECONNECT,
      RetryScope.NEVER,
    ],
    ['POOL_NOEXIST', ErrorCategory.CONNECTION, Severity.CRITICAL, RecoveryAction.FAILOVER, RetryScope.CONNECTION],
  ])('classifies the client code %s', (code, category, severity, action, scope) => {
    const result = classifier.classify(socketError(code));
    expect(result).toMatchObject({ category, severity, action, scope, code, matchedBy: 'code' });
    expect(result.errno).toBeUndefined(); // a Node errno (-111) is not a server errno
  });

  it.each([
    ["Can't add new command when connection is in closed state", ErrorCategory.CONNECTION, RetryScope.CONNECTION],
    ['Pool is closed.', ErrorCategory.CONNECTION, RetryScope.NEVER],
    ['Queue limit reached.', ErrorCategory.OVERLOAD, RetryScope.NEVER],
    ['No connections available.', ErrorCategory.OVERLOAD, RetryScope.NEVER],
  ])('recognises the uncoded mysql2 error "%s"', (message, category, scope) => {
    expect(classifier.classify(new Error(message))).toMatchObject({ category, scope, matchedBy: 'message' });
  });

  it("classifies TypeORM's QueryFailedError through its driver error", () => {
    const driverError = serverError(
      1213,
      'ER_LOCK_DEADLOCK',
      '40001',
      'Deadlock found when trying to get lock; try restarting transaction',
    );
    const wrapped = new QueryFailedError('UPDATE account SET balance = balance - 10 WHERE id = 1', [], driverError);
    const result = classifier.classify(wrapped);
    expect(result).toMatchObject({ category: ErrorCategory.DEADLOCK, errno: 1213, sqlState: '40001' });
    expect(result.sql).toBe('UPDATE account SET balance = balance - ? WHERE id = ?');
  });

  it('follows `cause` and `driverError` chains, and AggregateError', () => {
    const inner = serverError(1205, 'ER_LOCK_WAIT_TIMEOUT', 'HY000', 'Lock wait timeout exceeded');
    const outer = new Error('transfer failed', { cause: new Error('repository failed', { cause: inner }) });
    expect(classifier.classify(outer)).toMatchObject({ category: ErrorCategory.LOCK_TIMEOUT, errno: 1205 });
    const aggregate = new AggregateError([socketError('ECONNREFUSED')], 'connect failed');
    expect(classifier.classify(aggregate).code).toBe('ECONNREFUSED');
  });

  it('uses message patterns only when nothing coded matches', () => {
    expect(classifier.classify(new Error('Transaction deadlock, please retry'))).toMatchObject({
      category: ErrorCategory.DEADLOCK,
      matchedBy: 'message',
    });
    expect(classifier.classify(new Error('lock wait timeout'))).toMatchObject({ category: ErrorCategory.LOCK_TIMEOUT });
    // A coded error whose message mentions a deadlock stays what its code says.
    const dup = serverError(1062, 'ER_DUP_ENTRY', '23000', "Duplicate entry 'deadlock found' for key 'PRIMARY'");
    expect(classifier.classify(dup).category).toBe(ErrorCategory.INTEGRITY);
  });

  it('consults user rules before the catalogue, and ignores a rule whose test throws', () => {
    const custom = new ErrorClassifier([
      {
        test: () => {
          throw new Error('bad rule');
        },
        category: ErrorCategory.UNKNOWN,
        severity: Severity.LOW,
        action: RecoveryAction.RETRY,
      },
      {
        name: 'GALERA_CONFLICT',
        errno: 1213,
        message: /wsrep/i,
        category: ErrorCategory.DEADLOCK,
        severity: Severity.LOW,
        action: RecoveryAction.RETRY,
        scope: RetryScope.TRANSACTION,
      },
    ]);
    const galera = custom.classify(serverError(1213, 'ER_LOCK_DEADLOCK', '40001', 'WSREP detected deadlock/conflict'));
    expect(galera).toMatchObject({ name: 'GALERA_CONFLICT', severity: Severity.LOW, matchedBy: 'rule' });
    const plain = custom.classify(serverError(1213, 'ER_LOCK_DEADLOCK', '40001', 'Deadlock found'));
    expect(plain).toMatchObject({ name: 'ER_LOCK_DEADLOCK', severity: Severity.HIGH, matchedBy: 'errno' });
  });
});
