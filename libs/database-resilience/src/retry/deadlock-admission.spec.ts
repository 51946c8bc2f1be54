import { DeadlineExceededError } from '../errors/deadline-exceeded.error';
import { AdaptiveAdmission, DeadlockAdmissions } from './deadlock-admission';

/** What the retry runner does: at once when it may, else wait (a promise). */
const admit = (admission: AdaptiveAdmission, deadline: { at: number; ms: number } | undefined) =>
  admission.tryAdmit() ? undefined : admission.wait(deadline, 'db');

describe('AdaptiveAdmission (AIMD per operation)', () => {
  let now = 1_000_000;
  const policy = { enabled: true, minLimit: 2, quietMs: 10_000 };
  const make = () => new AdaptiveAdmission(policy, () => now);

  it('admits at once, without a promise, while the operation has not deadlocked', () => {
    const admission = make();
    for (let i = 0; i < 100; i++) expect(admit(admission, undefined)).toBeUndefined();
    expect(admission.state('db', 'op')).toMatchObject({ limit: null, inFlight: 100, waiting: 0 });
  });

  it('halves what was running on a deadlock (not below minLimit), queues the rest in order, grows by 1/limit', async () => {
    const admission = make();
    for (let i = 0; i < 8; i++) admit(admission, undefined);
    admission.release(true); // 8 were running: limit 4, 7 still in flight
    expect(admission.state('db', 'op')).toMatchObject({ limit: 4, inFlight: 7 });
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => admit(admission, undefined)!.then(() => order.push(n)));
    for (let i = 0; i < 4; i++) admission.release(false); // 3 in flight: below the limit (4.x), one admitted
    await Promise.resolve();
    expect(order).toEqual([1]);
    admission.release(false); // 3 in flight, the limit grown past 5: both others admitted, in order
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(admission.state('db', 'op')).toMatchObject({ limit: 5, inFlight: 5 });
    for (let i = 0; i < 20; i++) admission.release(true);
    expect(admission.state('db', 'op').limit).toBe(2); // never below minLimit
    await Promise.resolve();
  });

  it('halves once a window: deadlocks of units already running when it halved do not halve it again', () => {
    const admission = make();
    for (let i = 0; i < 8; i++) admit(admission, undefined);
    admission.release(true); // 8 were running: limit 4
    for (let i = 0; i < 3; i++) admission.release(true); // the same burst: still 4
    expect(admission.state('db', 'op')).toMatchObject({ limit: 4, inFlight: 4 });
    admission.release(false); // a whole window (4.x) has ended since it halved
    admission.release(true);
    expect(admission.state('db', 'op')).toMatchObject({ limit: 2, inFlight: 2 });
  });

  it('lifts the limit after quietMs without a deadlock, and admits who waited', async () => {
    const admission = make();
    for (let i = 0; i < 4; i++) admit(admission, undefined);
    admission.release(true); // limit 2, 3 in flight
    const waiting = admit(admission, undefined);
    expect(waiting).toBeInstanceOf(Promise);
    now += 10_001;
    expect(admit(admission, undefined)).toBeUndefined(); // lifted
    await waiting;
    expect(admission.state('db', 'op')).toMatchObject({ limit: null, waiting: 0 });
  });

  it('a waiter that reaches its deadline fails with DeadlineExceededError and leaves the queue', async () => {
    jest.useFakeTimers();
    try {
      const admission = new AdaptiveAdmission(policy);
      for (let i = 0; i < 4; i++) admit(admission, undefined);
      admission.release(true); // limit 2, 3 in flight
      const waiting = admit(admission, { at: Date.now() + 50, ms: 50 })!;
      jest.advanceTimersByTime(60);
      await expect(waiting).rejects.toBeInstanceOf(DeadlineExceededError);
      expect(admission.state('db', 'op').waiting).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('waitAlone(): goes in once every unit in flight has ended, none beside it, those after it once it ended', async () => {
    const admission = make();
    for (let i = 0; i < 4; i++) admit(admission, undefined);
    admission.release(true); // limit 2, 3 in flight
    const order: string[] = [];
    const alone = admission.waitAlone(undefined, 'db').then(() => order.push('alone'));
    const after = admit(admission, undefined)!.then(() => order.push('after'));
    admission.release(false);
    admission.release(false); // one still in flight: under the limit, but the unit waiting alone is first
    await Promise.resolve();
    expect(order).toEqual([]);
    admission.release(false);
    await alone;
    expect(admission.state('db', 'op')).toMatchObject({ inFlight: 1, waiting: 1 });
    admission.release(false);
    await after;
    expect(order).toEqual(['alone', 'after']);
  });

  it('waitAlone(): at once when nothing is in flight; its deadline passed, those behind it go in', async () => {
    jest.useFakeTimers();
    try {
      const admission = new AdaptiveAdmission(policy);
      await admission.waitAlone(undefined, 'db');
      expect(admission.tryAdmit()).toBe(false); // nothing waits, no limit applies: still none beside it
      admission.release(false);
      expect(admission.tryAdmit()).toBe(true);
      admission.release(false);
      for (let i = 0; i < 4; i++) admit(admission, undefined);
      admission.release(true); // limit 2, 3 in flight
      const alone = admission.waitAlone({ at: Date.now() + 50, ms: 50 }, 'db');
      const behind = admit(admission, undefined)!;
      admission.release(false);
      admission.release(false); // 1 in flight: the unit behind would fit the limit, but waits for the one alone
      expect(admission.state('db', 'op')).toMatchObject({ inFlight: 1, waiting: 2 });
      jest.advanceTimersByTime(60);
      await expect(alone).rejects.toBeInstanceOf(DeadlineExceededError);
      await behind;
      expect(admission.state('db', 'op')).toMatchObject({ inFlight: 2, waiting: 0 });
    } finally {
      jest.useRealTimers();
    }
  });

  it('DeadlockAdmissions: none while disabled or for a unit without an operation; one per database and operation', () => {
    expect(new DeadlockAdmissions({ ...policy, enabled: false }).get('db', 'op')).toBeUndefined();
    const admissions = new DeadlockAdmissions(policy);
    expect(admissions.get('db', undefined)).toBeUndefined();
    expect(admissions.get('db', 'op')).toBe(admissions.get('db', 'op'));
    expect(admissions.get('db', 'op')).not.toBe(admissions.get('other', 'op'));
    expect(admissions.states().map((s) => s.operation)).toEqual(['op', 'op']);
  });
});
