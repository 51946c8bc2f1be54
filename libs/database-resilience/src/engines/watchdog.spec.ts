import { Watchdog } from './watchdog';

describe('Watchdog', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('runs a wait once it is due, at the next tick, and only once', () => {
    const watchdog = new Watchdog(100);
    const onExpire = jest.fn();
    watchdog.watch(150, onExpire);
    jest.advanceTimersByTime(100);
    expect(onExpire).not.toHaveBeenCalled();
    jest.advanceTimersByTime(100);
    expect(onExpire).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(500);
    expect(onExpire).toHaveBeenCalledTimes(1);
    watchdog.stop();
  });

  it('never runs a cancelled wait', () => {
    const watchdog = new Watchdog(100);
    const onExpire = jest.fn();
    watchdog.watch(50, onExpire).cancel();
    jest.advanceTimersByTime(300);
    expect(onExpire).not.toHaveBeenCalled();
  });

  it('watches the same object again after it was deleted (the guard reuses each connection state)', () => {
    const watchdog = new Watchdog(100);
    const entry = { at: 50, onExpire: jest.fn() };
    watchdog.add(entry);
    watchdog.delete(entry);
    entry.at = 250;
    watchdog.add(entry);
    jest.advanceTimersByTime(200);
    expect(entry.onExpire).not.toHaveBeenCalled();
    jest.advanceTimersByTime(100);
    expect(entry.onExpire).toHaveBeenCalledTimes(1);
    watchdog.stop();
  });

  it('stops ticking when nothing is watched, and starts again on the next wait', () => {
    const watchdog = new Watchdog(100);
    watchdog.watch(50, () => undefined);
    jest.advanceTimersByTime(200); // fired, then a tick with nothing watched
    expect(jest.getTimerCount()).toBe(0);
    const onExpire = jest.fn();
    watchdog.watch(Date.now() + 50, onExpire);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(100);
    expect(onExpire).toHaveBeenCalledTimes(1);
    watchdog.stop();
  });
});
