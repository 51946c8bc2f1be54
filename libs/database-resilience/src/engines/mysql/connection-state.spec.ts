import { ErrorClassifier } from '../../classification/error-classifier';
import { outcomeUnknownOf } from '../../errors/database-error-marks';
import {
  newConnectionState,
  outcomeUnknownIfLost,
  trackFailure,
  trackSuccess,
  type ConnectionState,
} from './connection-state';

const classifier = new ErrorClassifier();
const state = (): ConnectionState =>
  newConnectionState(
    'primary',
    () => undefined,
    () => undefined,
  );
const lost = () => Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });

describe('connection-state: transaction tracking', () => {
  it('follows BEGIN and COMMIT; a write is ambiguous when lost only outside a transaction, COMMIT always', () => {
    const s = state();
    expect(outcomeUnknownIfLost(s, 'write')).toBe(true); // autocommit
    trackSuccess(s, 'begin');
    expect(s.inTransaction).toBe(true);
    expect(outcomeUnknownIfLost(s, 'write')).toBe(false); // rolled back with the transaction
    expect(outcomeUnknownIfLost(s, 'commit')).toBe(true);
    trackSuccess(s, 'commit');
    expect(s.inTransaction).toBe(false);
  });

  it('a connection lost while COMMIT was in flight: the error is marked outcome unknown, the connection doomed', () => {
    const s = state();
    trackSuccess(s, 'begin');
    const error = lost();
    trackFailure(s, 9, error, classifier.classify(error), 'commit', outcomeUnknownIfLost(s, 'commit'));
    expect(outcomeUnknownOf(error)).toEqual({ threadId: 9 });
    expect(s).toMatchObject({ doomed: true, inTransaction: false });
  });

  it("mysql2's closed state sent nothing: not ambiguous", () => {
    const s = state();
    const error = Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true });
    const seen = classifier.classify(error);
    expect(seen.name).toBe('CONNECTION_CLOSED_STATE');
    trackFailure(s, 9, error, seen, 'commit', true);
    expect(outcomeUnknownOf(error)).toBeUndefined();
  });

  it('a read-only refusal dooms the connection (a demoted primary) without making anything ambiguous', () => {
    const s = state();
    const error = Object.assign(new Error('read only'), { errno: 1792, sqlState: '25006' });
    trackFailure(s, 9, error, classifier.classify(error), 'write', true);
    expect(s.doomed).toBe(true);
    expect(outcomeUnknownOf(error)).toBeUndefined();
  });

  it('a caller error (duplicate key) leaves the connection in the pool', () => {
    const s = state();
    const error = Object.assign(new Error('Duplicate entry'), { errno: 1062, code: 'ER_DUP_ENTRY' });
    trackFailure(s, 9, error, classifier.classify(error), 'write', true);
    expect(s.doomed).toBe(false);
  });
});
