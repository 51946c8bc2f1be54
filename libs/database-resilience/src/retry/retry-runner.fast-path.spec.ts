import { CircuitOpenError } from '../circuit-breaker/circuit-open.error';
import { resolveOptions } from '../options/options.schema';
import { unitOfWork } from '../context/unit-of-work';
import { DeadlockAdmissions } from './deadlock-admission';
import { deadlock, failing, lockWait, lost, newHarness, policy, settle, unit } from './retry-runner.spec-support';

/** run() runs the first attempt without the loop; these pin what that path must still do. */
describe('RetryRunner: the first attempt outside the retry loop (fake timers)', () => {
  afterEach(() => jest.useRealTimers());

  it('an open breaker: run() neither throws nor calls the work; its promise rejects with CircuitOpenError', async () => {
    const { runner, breakers } = newHarness();
    breakers.forceOpen('default');
    const work = jest.fn(async () => 'ok');
    let promise: Promise<string> | undefined;
    expect(() => (promise = runner.run(work, unit, policy()))).not.toThrow();
    await expect(promise).rejects.toBeInstanceOf(CircuitOpenError);
    expect(work).not.toHaveBeenCalled();
  });

  it('runs the work inside its unit of work, and leaves none behind', async () => {
    const { runner } = newHarness();
    const seen = await runner.run(async () => unitOfWork.getStore()?.operation, unit, policy());
    expect(seen).toBe('op');
    expect(unitOfWork.getStore()).toBeUndefined();
  });

  it('work that throws before returning a promise is a failure of the first attempt, retried like any other', async () => {
    const { runner } = newHarness();
    let calls = 0;
    const work = (() => {
      if (++calls === 1) throw deadlock();
      return Promise.resolve('ok');
    }) as () => Promise<string>;
    const { value } = await settle(runner.run(work, unit, policy()));
    expect(value).toBe('ok');
    expect(calls).toBe(2);
  });

  it('deadlock admission: the first attempt is admitted and released whether it succeeds or fails', async () => {
    const admissions = new DeadlockAdmissions(resolveOptions({}).deadlockAdmission);
    const { runner, events } = newHarness(admissions);
    await settle(runner.run(async () => 'ok', unit, policy()));
    expect(admissions.get('default', 'op')!.state('default', 'op')).toMatchObject({ inFlight: 0, limit: null });
    const work = failing(deadlock);
    const { value } = await settle(runner.run(work, unit, policy()));
    expect(value).toBe('ok');
    expect(work).toHaveBeenCalledTimes(2);
    // The first attempt's deadlock reached the limit (it is set now), and both attempts were released.
    const after = admissions.get('default', 'op')!.state('default', 'op');
    expect(after.inFlight).toBe(0);
    expect(after.limit).not.toBeNull();
    expect(events.filter((e) => e.type === 'attempt-failed')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'recovered')).toHaveLength(1);
  });

  it('deadlock admission: the last attempt after deadlocks waits until its operation runs nothing else', async () => {
    const admissions = new DeadlockAdmissions(resolveOptions({}).deadlockAdmission);
    const { runner } = newHarness(admissions);
    let endHolder!: () => void;
    const holder = runner.run(
      () => new Promise<string>((resolve) => (endHolder = () => resolve('held'))),
      unit,
      policy(),
    );
    const lastAfterOne = failing(deadlock); // 3 attempts: its second is not the last, it runs beside the holder
    expect((await settle(runner.run(lastAfterOne, unit, policy()))).value).toBe('ok');
    const lastAfterLockWait = failing(deadlock, lockWait); // its last attempt follows no deadlock: beside it too
    expect((await settle(runner.run(lastAfterLockWait, unit, policy()))).value).toBe('ok');
    const lastAfterTwo = failing(deadlock, deadlock);
    const outcome = settle(runner.run(lastAfterTwo, unit, policy()));
    await jest.runAllTimersAsync();
    expect(lastAfterTwo).toHaveBeenCalledTimes(2); // the third waits for the holder
    endHolder();
    await expect(holder).resolves.toBe('held');
    expect((await outcome).value).toBe('ok');
    expect(lastAfterTwo).toHaveBeenCalledTimes(3);
    expect(admissions.get('default', 'op')!.state('default', 'op')).toMatchObject({ inFlight: 0, waiting: 0 });
  });

  it('a prepared unit, run again and again, feeds the same breaker and admission as each of its calls would', async () => {
    const admissions = new DeadlockAdmissions(resolveOptions({}).deadlockAdmission);
    const { runner, breakers } = newHarness(admissions);
    const prepared = runner.prepare(unit);
    await settle(runner.runPrepared(failing(deadlock), prepared, policy()));
    // The deadlock set the operation's limit: the admission the next plain run() looks up is the prepared one.
    expect(admissions.get('default', 'op')!.state('default', 'op').limit).not.toBeNull();
    for (let i = 0; i < 2; i++) await settle(runner.runPrepared(failing(lost, lost, lost), prepared, policy()));
    expect(breakers.get('default').state).toBe('open'); // failureThreshold 2 in the harness
    const work = jest.fn(async () => 'ok');
    await expect(runner.runPrepared(work, prepared, policy())).rejects.toBeInstanceOf(CircuitOpenError);
    expect(work).not.toHaveBeenCalled();
  });
});
