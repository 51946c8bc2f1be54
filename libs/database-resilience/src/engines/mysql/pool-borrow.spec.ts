import { DeadlineExceededError } from '../../errors/deadline-exceeded.error';
import { PoolAcquireTimeoutError } from '../../errors/pool-acquire-timeout.error';
import { resolveOptions } from '../../options/options.schema';
import { fakeConnection } from './fake-connection.spec-support';
import type { Mysql2Connection } from './mysql2-connection';
import { PoolBorrow, type Obtain } from './pool-borrow';
import { Watchdog } from '../watchdog';

const pool = resolveOptions({
  pool: { acquireTimeoutMs: 1000, validateAfterIdleMs: 5000, validationTimeoutMs: 300 },
}).pool;

describe('PoolBorrow (fake timers, a pool without a server)', () => {
  let watchdog: Watchdog;
  let borrow: PoolBorrow;
  beforeEach(() => {
    jest.useFakeTimers();
    watchdog = new Watchdog(100);
    borrow = new PoolBorrow(pool, 'default', watchdog);
  });
  afterEach(() => {
    watchdog.stop();
    jest.useRealTimers();
  });

  /** A pool that hands out `connection` when `give()` is called. */
  function slowPool(connection = fakeConnection()) {
    let pending: ((error: unknown, connection?: Mysql2Connection) => void) | undefined;
    const obtain: Obtain = (callback) => (pending = callback);
    return { obtain, connection, give: () => pending?.(undefined, connection) };
  }

  it('bounds the wait for a connection by pool.acquireTimeoutMs, and gives a late connection back to the pool', () => {
    const { obtain, connection, give } = slowPool();
    const callback = jest.fn();
    borrow.acquire(obtain, undefined, callback);
    jest.advanceTimersByTime(900);
    expect(callback).not.toHaveBeenCalled();
    jest.advanceTimersByTime(300); // the watchdog's tick is coarse: within 100 ms after
    expect(callback).toHaveBeenCalledWith(expect.any(PoolAcquireTimeoutError));
    give();
    expect(connection.calls.released).toBe(1);
    expect(callback).toHaveBeenCalledTimes(1);
  });

  it("never waits past the caller's deadline (a precise timer)", () => {
    const { obtain } = slowPool();
    const callback = jest.fn();
    borrow.acquire(obtain, { at: Date.now() + 200, ms: 200 }, callback);
    jest.advanceTimersByTime(200);
    expect(callback).toHaveBeenCalledWith(expect.any(DeadlineExceededError));
  });

  it('hands out a free connection at once, without watching', () => {
    const connection = fakeConnection();
    const obtain: Obtain = Object.assign(
      (callback: (e: unknown, c?: Mysql2Connection) => void) => callback(undefined, connection),
      { hasIdle: () => true },
    );
    const callback = jest.fn();
    borrow.acquire(obtain, undefined, callback);
    expect(callback).toHaveBeenCalledWith(undefined, connection);
  });

  it('pings a connection idle for pool.validateAfterIdleMs, and calls it dead when the ping never answers', () => {
    const idle = fakeConnection(undefined, { lastActiveTime: Date.now() - 6000 });
    const fresh = fakeConnection(undefined, { lastActiveTime: Date.now() - 10 });
    expect(borrow.idleTooLong(idle)).toBe(true);
    expect(borrow.idleTooLong(fresh)).toBe(false);
    const alive = jest.fn();
    borrow.ping(idle, undefined, alive);
    expect(idle.calls.pings).toBe(1);
    jest.advanceTimersByTime(300);
    expect(alive).toHaveBeenCalledWith(false);
  });
});
