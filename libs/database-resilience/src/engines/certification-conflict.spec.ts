import { ErrorClassifier } from '../classification/error-classifier';
import { certificationConflict } from './certification-conflict';

describe('certificationConflict', () => {
  it("names the transaction's writes (no values), the tables they wrote and the node, and stays a retried deadlock", () => {
    const deadlock = new ErrorClassifier().classify(
      Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), {
        errno: 1213,
        code: 'ER_LOCK_DEADLOCK',
        sqlState: '40001',
      }),
    );
    const conflict = certificationConflict(
      deadlock,
      'COMMIT',
      [
        "UPDATE `account` SET balance = balance - 5 WHERE id = 'secret-1'",
        'UPDATE `account` SET balance = balance + 5 WHERE id = 7',
        "INSERT INTO ledger (id, note) VALUES (1, 'card 4111')",
      ],
      '127.0.0.1:3501',
    );
    expect(conflict).toMatchObject({
      name: 'CERTIFICATION_CONFLICT',
      sql: 'COMMIT',
      category: deadlock.category,
      retryable: true,
      scope: deadlock.scope,
      conflict: {
        node: '127.0.0.1:3501',
        statements: [
          'UPDATE `account` SET balance = balance - ? WHERE id = ?',
          'UPDATE `account` SET balance = balance + ? WHERE id = ?',
          'INSERT INTO ledger (id, note) VALUES (?+)',
        ],
        tables: ['account', 'ledger'],
      },
    });
    expect(JSON.stringify(conflict)).not.toMatch(/secret|4111/);
  });
});
