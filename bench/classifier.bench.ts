import { QueryFailedError } from 'typeorm';
import { ErrorClassifier } from 'nestjs-database-resilience';
import { measure, type BenchTable } from './bench-table';

/** `ErrorClassifier.classify()` per call, beside a bare function call, on errors shaped as mysql2 and TypeORM make them. */
export function classifierBench(): Promise<BenchTable> {
  const classifier = new ErrorClassifier();
  const deadlock = Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), {
    code: 'ER_LOCK_DEADLOCK',
    errno: 1213,
    sqlState: '40001',
    sqlMessage: 'Deadlock found when trying to get lock; try restarting transaction',
  });
  const wrapped = new QueryFailedError('UPDATE account SET balance = balance - ? WHERE id = ?', [10, 1], deadlock);
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'connect',
    fatal: true,
  });
  const unknown = { message: 'something else went wrong', detail: 42 };
  const bare = (error: unknown) => error;

  return measure(
    'ErrorClassifier.classify() per call (target: under 1 µs median for coded errors)',
    [
      ['bare function call (baseline)', () => bare(deadlock)],
      ['coded deadlock (mysql2 error, errno 1213)', () => classifier.classify(deadlock)],
      ['deadlock wrapped in QueryFailedError', () => classifier.classify(wrapped)],
      ['connection error (ECONNREFUSED)', () => classifier.classify(refused)],
      ['unknown object (falls through to message patterns)', () => classifier.classify(unknown)],
      ['coded deadlock + redacted message read', () => classifier.classify(deadlock).message],
    ],
    { notes: ['The redacted message is computed on first read only; the hot path never reads it.'] },
  );
}
