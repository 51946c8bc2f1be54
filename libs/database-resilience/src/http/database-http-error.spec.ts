import { BadRequestException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { CircuitOpenError } from '../circuit-breaker/circuit-open.error';
import { ErrorCategory } from '../classification/error-category.enum';
import { ErrorClassifier } from '../classification/error-classifier';
import { markDatabaseError } from '../errors/database-error-marks';
import { attachDetails } from '../retry/resilience-error-details';
import { AnyDatabaseError } from './database-error.matcher';
import { httpErrorFor } from './database-http-error';

const classifier = new ErrorClassifier();
const categoryOnly = (category: ErrorCategory) => ({ ...classifier.classify(new Error('x')), category });

describe('httpErrorFor', () => {
  it.each([
    [ErrorCategory.CIRCUIT_OPEN, 503],
    [ErrorCategory.CONNECTION, 503],
    [ErrorCategory.STATEMENT_TIMEOUT, 503],
    [ErrorCategory.OVERLOAD, 503],
    [ErrorCategory.DEADLOCK, 503],
    [ErrorCategory.LOCK_TIMEOUT, 503],
    [ErrorCategory.INTEGRITY, 409],
    [ErrorCategory.DATA, 422],
    [ErrorCategory.SCHEMA, 500],
    [ErrorCategory.SYNTAX, 500],
    [ErrorCategory.COMMIT_OUTCOME_UNKNOWN, 500],
    [ErrorCategory.UNKNOWN, 500],
  ])('%s → %i, Retry-After only with 503', (category, status) => {
    const answer = httpErrorFor(categoryOnly(category), 5);
    expect(answer.status).toBe(status);
    expect(answer.code).toMatch(/^DATABASE_[A-Z_]+$/);
    expect(answer.retryAfterSeconds).toBe(status === 503 ? 5 : undefined);
  });

  it('has an answer for every category', () => {
    for (const category of Object.values(ErrorCategory))
      expect(httpErrorFor(categoryOnly(category), 1).status).toBeGreaterThanOrEqual(400);
  });

  it("takes an open breaker's own wait, rounded up to a whole second", () => {
    expect(httpErrorFor(categoryOnly(ErrorCategory.CIRCUIT_OPEN), 5, 1200).retryAfterSeconds).toBe(2);
    expect(httpErrorFor(categoryOnly(ErrorCategory.CIRCUIT_OPEN), 5, 0).retryAfterSeconds).toBe(1);
  });
});

describe('AnyDatabaseError (what the module filter catches)', () => {
  it('matches database errors', () => {
    expect(new QueryFailedError('SELECT 1', [], new Error('x'))).toBeInstanceOf(AnyDatabaseError);
    expect(CircuitOpenError.create('default', 10)).toBeInstanceOf(AnyDatabaseError);
    const raw = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    markDatabaseError(raw, classifier.classify(raw));
    expect(raw).toBeInstanceOf(AnyDatabaseError);
    const givenUp = Object.assign(new Error('deadlock'), { errno: 1213 });
    attachDetails(givenUp, {
      database: 'default',
      operation: undefined,
      attempts: 3,
      classified: classifier.classify(givenUp),
    });
    expect(givenUp).toBeInstanceOf(AnyDatabaseError);
  });

  it("leaves the app's errors alone, even those thrown inside a unit of work", () => {
    expect(new BadRequestException()).not.toBeInstanceOf(AnyDatabaseError);
    expect(new Error('insufficient funds')).not.toBeInstanceOf(AnyDatabaseError);
    const ownError = new Error('insufficient funds');
    attachDetails(ownError, {
      database: 'default',
      operation: undefined,
      attempts: 1,
      classified: classifier.classify(ownError),
    });
    expect(ownError).not.toBeInstanceOf(AnyDatabaseError);
    expect('a string').not.toBeInstanceOf(AnyDatabaseError);
  });
});
