import { ErrorCategory } from './error-category.enum';
import { ErrorClassifier } from './error-classifier';
import { RetryScope } from './retry-scope.enum';

/** Errors known by their SQLSTATE only: PostgreSQL's (pg puts it in `code`), or a driver that gives no errno. */
describe('ErrorClassifier by SQLSTATE', () => {
  const classifier = new ErrorClassifier();
  const serverError = (errno: number, code: string | undefined, sqlState: string, message: string) =>
    Object.assign(new Error(message), { errno, code, sqlState, sqlMessage: message, fatal: undefined });

  it('falls back to the SQLSTATE class when errno and code are unknown', () => {
    expect(classifier.classify(serverError(9999, undefined, '08S01', 'x')).category).toBe(ErrorCategory.CONNECTION);
    expect(classifier.classify(serverError(9999, undefined, '23000', 'x')).category).toBe(ErrorCategory.INTEGRITY);
    expect(classifier.classify(serverError(9999, undefined, '40001', 'x')).matchedBy).toBe('sqlState');
  });

  it('retries a bare SQLSTATE 40001 or 40P01 (PostgreSQL, or a driver that gives no errno) as a whole transaction', () => {
    for (const sqlState of ['40001', '40P01']) {
      for (const error of [
        // pg puts the SQLSTATE in `code`, beside a `severity`
        Object.assign(new Error('could not serialize access'), { code: sqlState, severity: 'ERROR' }),
        Object.assign(new Error('serialization failure'), { sqlState }),
      ]) {
        expect(classifier.classify(error)).toMatchObject({
          category: ErrorCategory.DEADLOCK,
          retryable: true,
          scope: RetryScope.TRANSACTION,
        });
      }
    }
  });
});
