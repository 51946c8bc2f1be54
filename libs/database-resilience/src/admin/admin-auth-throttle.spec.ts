import { ThrottlerException } from '@nestjs/throttler';
import { resolveOptions } from '../options/options.schema';
import { AdminAuthThrottle } from './admin-auth-throttle';

const from = (ip: string) => ({ ip });
const blocked = (throttle: AdminAuthThrottle, ip: string) => {
  try {
    throttle.check(from(ip));
    return false;
  } catch (error) {
    return error instanceof ThrottlerException;
  }
};
/** Fails until the address is blocked (the limit is 1: the second failure blocks). */
const block = async (throttle: AdminAuthThrottle, ip: string) => {
  await throttle.failed(from(ip)).catch(() => undefined);
  await throttle.failed(from(ip)).catch(() => undefined);
};

describe('AdminAuthThrottle', () => {
  let throttle: AdminAuthThrottle;
  beforeEach(() => {
    throttle = new AdminAuthThrottle(resolveOptions({ admin: { authFailureLimit: 1, authFailureWindowMs: 60_000 } }));
  });
  afterEach(() => throttle.onModuleDestroy());

  it('blocks an address past the limit, and that address only', async () => {
    await block(throttle, '10.0.0.1');
    expect(blocked(throttle, '10.0.0.1')).toBe(true);
    expect(blocked(throttle, '10.0.0.2')).toBe(false);
  });

  it('many addresses (IPv6 churn) cannot lift everyone’s block: past the bound the oldest block goes first', async () => {
    await block(throttle, 'first');
    await block(throttle, 'second');
    for (let i = 0; i < 9_999; i++) await block(throttle, `2001:db8::${i.toString(16)}`);
    expect(blocked(throttle, 'first')).toBe(false); // the oldest, evicted
    expect(blocked(throttle, 'second')).toBe(true);
    expect(blocked(throttle, '2001:db8::0')).toBe(true);
  });
});
