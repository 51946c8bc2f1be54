import fc from 'fast-check';
import { QueryFailedError } from 'typeorm';
import { ErrorCategory } from './error-category.enum';
import { ErrorClassifier } from './error-classifier';
import { Severity } from './severity.enum';

/** An error shaped the way mysql2 builds server errors. */
function serverError(errno: number, code: string | undefined, sqlState: string, message: string): Error {
  return Object.assign(new Error(message), { errno, code, sqlState, sqlMessage: message, fatal: undefined });
}

/** What the classifier does with what is not a database error, with hostile values, and with secrets. */
describe('ErrorClassifier on anything it is given', () => {
  const classifier = new ErrorClassifier();

  it('gives unknown/low for anything that is not a database error', () => {
    for (const value of [null, undefined, 'boom', 42, Symbol('s'), {}, [], new Error('plain')]) {
      expect(classifier.classify(value)).toMatchObject({
        category: ErrorCategory.UNKNOWN,
        severity: Severity.LOW,
        retryable: false,
      });
    }
  });

  it('never throws on hostile input: throwing getters, proxies, cycles, huge messages', () => {
    const throwing = Object.defineProperty({}, 'errno', {
      get: () => {
        throw new Error('getter');
      },
    });
    const proxy = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
        has: () => {
          throw new Error('trap');
        },
      },
    );
    const cyclic: Record<string, unknown> = { message: 'cyclic' };
    cyclic.cause = cyclic;
    const huge = new Error('x'.repeat(5_000_000));
    for (const value of [throwing, proxy, cyclic, huge]) {
      const result = classifier.classify(value);
      expect(result.category).toBe(ErrorCategory.UNKNOWN);
      expect(result.message.length).toBeLessThanOrEqual(2000);
    }
  });

  it('never throws, whatever it is given (property)', () => {
    fc.assert(
      fc.property(
        fc.anything({ withObjectString: true, withNullPrototype: true, withBigInt: true, withMap: true }),
        (value) => {
          const result = classifier.classify(value);
          expect(Object.values(Severity)).toContain(result.severity);
          expect(typeof result.message).toBe('string');
          JSON.stringify(result);
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.record(
          {
            errno: fc.anything(),
            code: fc.anything(),
            sqlState: fc.anything(),
            message: fc.anything(),
            cause: fc.anything(),
          },
          { requiredKeys: [] },
        ),
        (value) => {
          expect(Object.values(ErrorCategory)).toContain(classifier.classify(value).category);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps values and secrets out of its result', () => {
    const insert = new QueryFailedError(
      "INSERT INTO users (name, password) VALUES ('alice', 'hunter2-secret')",
      ['alice', 'hunter2-secret'],
      serverError(1062, 'ER_DUP_ENTRY', '23000', "Duplicate entry 'hunter2-secret' for key 'users.password_idx'"),
    );
    const json = JSON.stringify(classifier.classify(insert));
    expect(json).not.toContain('hunter2');
    expect(json).toContain('users.password_idx');
    expect(json).toContain('INSERT INTO users (name, password) VALUES (?+)');

    const dsn = new Error('Failed to connect to mysql://app:s3cr3t-pw@db.internal:3306/shop');
    expect(classifier.classify(dsn).message).toBe('Failed to connect to mysql://app:***@db.internal:3306/shop');
  });
});
