import { ErrorCategory } from './error-category.enum';
import { ErrorClassifier } from './error-classifier';
import { RetryScope } from './retry-scope.enum';

/** An error shaped the way mysql2 builds server errors. */
function serverError(errno: number, code: string | undefined, sqlState: string, message: string): Error {
  return Object.assign(new Error(message), { errno, code, sqlState, sqlMessage: message, fatal: undefined });
}

describe('ErrorClassifier on Galera', () => {
  const classifier = new ErrorClassifier();

  it("reads Galera's refusals as the node's, not the write's: 1047 and 1180 out of the primary component", () => {
    // As Galera 4 on MariaDB 10.11 answers on a node cut off the group (seen in test/failover/galera.int-spec.ts).
    const notReady = classifier.classify(
      serverError(1047, 'ER_UNKNOWN_COM_ERROR', '08S01', 'WSREP has not yet prepared node for application use'),
    );
    const notPrimary = classifier.classify(
      serverError(
        1180,
        'ER_ERROR_DURING_COMMIT',
        'HY000',
        'Error while appending streaming replication fragment(provider status: Not connected to Primary Component)',
      ),
    );
    for (const refused of [notReady, notPrimary]) {
      expect(refused).toMatchObject({
        category: ErrorCategory.CONNECTION,
        retryable: true,
        scope: RetryScope.CONNECTION,
      });
    }
    expect(notPrimary.name).toBe('WSREP_NOT_PRIMARY');
    // Any other failure during COMMIT still leaves the outcome unknown.
    const other = classifier.classify(
      serverError(1180, 'ER_ERROR_DURING_COMMIT', 'HY000', 'Got error 1 during COMMIT'),
    );
    expect(other.category).toBe(ErrorCategory.COMMIT_OUTCOME_UNKNOWN);
  });
});
