import { CircuitBreaker } from '../circuit-breaker/circuit-breaker';
import { ErrorClassifier } from '../classification/error-classifier';
import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { ResilienceEvents } from '../events/resilience-events';
import { resolveOptions } from '../options/options.schema';
import { StatementReporter } from './statement-reporter';

describe('StatementReporter: what a deadline that ran out tells the breaker', () => {
  const policy = { ...resolveOptions({}).circuitBreaker, failureThreshold: 3 };
  let breaker: CircuitBreaker;
  let reporter: StatementReporter;
  beforeEach(() => {
    breaker = new CircuitBreaker('default', policy);
    reporter = new StatementReporter('default', new ErrorClassifier(), breaker, new ResilienceEvents(), 1000);
  });
  const expired = () => reporter.report(new DeadlineExceededError(5000, 'default'));

  it('a server that answered nothing (hung): each deadline is a failure, and the breaker opens', () => {
    expired();
    expired();
    expired();
    expect(breaker.state).toBe('open');
  });

  it('a server that keeps answering other statements (a lock held long, a queue for the pool): no failure', () => {
    for (let i = 0; i < 10; i++) {
      reporter.success(); // another statement's answer
      expired();
    }
    expect(breaker.state).toBe('closed');
  });

  it("a server's error is an answer too (a deadlock just came back): the deadlines after it are no failure", () => {
    const deadlock = Object.assign(new Error('Deadlock found when trying to get lock'), {
      errno: 1213,
      code: 'ER_LOCK_DEADLOCK',
      sqlState: '40001',
    });
    reporter.report(deadlock);
    expired();
    expired();
    expired();
    expect(breaker.snapshot().consecutiveFailures).toBe(0);
  });

  it('silence for the last half of the deadline (at most 2 s) counts again', () => {
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      reporter.success();
      now += 2001; // a 5 s deadline: 2 s of silence is enough
      expired();
      expired();
      expired();
      expect(breaker.state).toBe('open');
    } finally {
      jest.restoreAllMocks();
    }
  });
});
