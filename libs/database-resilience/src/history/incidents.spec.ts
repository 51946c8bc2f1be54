import { ErrorClassifier } from '../classification/error-classifier';
import type { ErrorRecord } from './error-history';
import { groupIncidents } from './incidents';

const classifier = new ErrorClassifier();
const deadlock = classifier.classify(
  Object.assign(new Error('Deadlock found'), { errno: 1213, code: 'ER_LOCK_DEADLOCK' }),
);
const refused = classifier.classify(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

function record(at: number, error = deadlock, route = 'POST /transfers', database = 'default'): ErrorRecord {
  return {
    at: new Date(at),
    database,
    operation: undefined,
    requestId: undefined,
    route,
    attempt: 1,
    outcome: 'failed',
    error,
  };
}

describe('groupIncidents', () => {
  it('one row per code, route and database: count, first and last seen, newest group first', () => {
    const records = [
      record(5000, refused, 'GET /accounts'),
      record(4000),
      record(3000, deadlock, 'POST /accounts'),
      record(2000),
      record(1000),
    ];
    const groups = groupIncidents(records);
    expect(groups.map((g) => [g.code, g.route, g.count])).toEqual([
      ['ECONNREFUSED', 'GET /accounts', 1],
      ['ER_LOCK_DEADLOCK', 'POST /transfers', 3],
      ['ER_LOCK_DEADLOCK', 'POST /accounts', 1],
    ]);
    expect(groups[1]).toMatchObject({
      firstSeen: new Date(1000).toISOString(),
      lastSeen: new Date(4000).toISOString(),
      category: 'deadlock',
      severity: 'high',
      outcomes: { failed: 3, recovered: 0, retrying: 0 },
    });
  });

  it('filters by severity, category and database', () => {
    const records = [record(3000, refused), record(2000), record(1000, deadlock, 'POST /transfers', 'reports')];
    expect(groupIncidents(records, { severity: 'critical' }).map((g) => g.code)).toEqual(['ECONNREFUSED']);
    expect(groupIncidents(records, { category: 'deadlock' }).map((g) => g.database)).toEqual(['default', 'reports']);
    expect(groupIncidents(records, { database: 'reports' })).toHaveLength(1);
  });
});
