import { MemorySharedStateStore, SharedStateStore, type SharedStateMessage } from '../shared-state/shared-state-store';
import { AdminSigner, bearerOf, cookiesOf, setCookie, tokenMatches } from './admin-access';
import { AdminSessions } from './admin-sessions';

const TOKEN = 'a-token-of-sixteen+';

describe('admin access: tokens, cookies, signed sessions and CSRF', () => {
  it('matches the token only, a wrong token of the right length included', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN.slice(0, -1) + 'X', TOKEN)).toBe(false);
    expect(tokenMatches('', TOKEN)).toBe(false);
    expect(tokenMatches(TOKEN + TOKEN, TOKEN)).toBe(false);
  });

  it('reads a bearer token and cookies, and nothing from hostile headers', () => {
    expect(bearerOf(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerOf(['Bearer x'])).toBeUndefined();
    expect(bearerOf('Basic abc')).toBeUndefined();
    expect(cookiesOf('a=1; dr_admin_session=x%20y; =bad; c')).toMatchObject({ a: '1', dr_admin_session: 'x y' });
    expect(cookiesOf(undefined)).toEqual({});
    expect(cookiesOf('a=%E0%A4%A')).toEqual(expect.any(Object)); // a broken escape is not a crash
  });

  it('a session cookie is good until it expires, on every instance sharing the token, and only there', () => {
    const signer = new AdminSigner(TOKEN);
    const value = signer.session(60_000, 'sid-0123456789abcdef', 1_000);
    expect(signer.sessionOf(value, 1_000)).toEqual({ sid: 'sid-0123456789abcdef', expiresAt: 61_000 });
    expect(new AdminSigner(TOKEN).sessionOf(value, 1_000)).toBeDefined(); // another instance, same token
    expect(signer.sessionOf(value, 61_000)).toBeUndefined(); // expired
    expect(new AdminSigner('another-token-of-16').sessionOf(value, 1_000)).toBeUndefined();
    expect(new AdminSigner(undefined).sessionOf(value, 1_000)).toBeUndefined(); // a random secret
    const [expiry, sid, mac] = value.split('.');
    expect(signer.sessionOf(`${Number(expiry) + 1_000_000}.${sid}.${mac}`, 1_000)).toBeUndefined(); // lengthened
    expect(
      signer.sessionOf(`${expiry}.${sid}.${mac.replace(/^./, mac[0] === 'A' ? 'B' : 'A')}`, 1_000),
    ).toBeUndefined();
    expect(signer.sessionOf(`${value}.extra`, 1_000)).toBeUndefined();
  });

  it('CSRF: the header must repeat the cookie, and the token must be one this signer made', () => {
    const signer = new AdminSigner(TOKEN);
    const token = signer.csrfToken();
    expect(signer.csrfValid(token, token)).toBe(true);
    expect(signer.csrfValid(token, signer.csrfToken())).toBe(false); // not the same
    expect(signer.csrfValid(undefined, token)).toBe(false);
    const [nonce] = token.split('.');
    const planted = `${nonce}.${'A'.repeat(token.length - nonce.length - 1)}`; // a cookie set by a sibling domain
    expect(signer.csrfValid(planted, planted)).toBe(false);
    expect(new AdminSigner('another-token-of-16').csrfValid(token, token)).toBe(false);
  });

  it('cookies are SameSite=Strict on the admin path, HttpOnly unless the script reads them', () => {
    expect(
      setCookie('dr_admin_session', 'v;x', '/database-errors', { httpOnly: true, maxAgeS: 60, secure: true }),
    ).toBe('dr_admin_session=v%3Bx; Path=/database-errors; Max-Age=60; SameSite=Strict; HttpOnly; Secure');
    expect(setCookie('c', 'v', '/p', { httpOnly: false, maxAgeS: 0, secure: false })).not.toContain('HttpOnly');
  });
});

/** A store every instance shares in one process: what one publishes, every subscriber hears. */
class FanOutStore extends SharedStateStore {
  private readonly listeners: Array<(message: SharedStateMessage) => void> = [];
  async publish(message: SharedStateMessage): Promise<void> {
    this.listeners.forEach((listener) => listener(message));
  }
  subscribe(listener: (message: SharedStateMessage) => void): void {
    this.listeners.push(listener);
  }
  async ready(): Promise<void> {}
  async storedStates(): Promise<SharedStateMessage[]> {
    return [];
  }
  async close(): Promise<void> {}
}

describe('AdminSessions: logout ends a session on every instance', () => {
  it('revoked here and on another instance sharing the store, for that session only', async () => {
    const store = new FanOutStore();
    const signer = new AdminSigner(TOKEN);
    const here = new AdminSessions(signer, store);
    const there = new AdminSessions(new AdminSigner(TOKEN), store);
    const ended = here.issue(60_000);
    const kept = here.issue(60_000);
    expect(there.valid(ended)).toBe(true);
    await here.revoke(ended);
    expect(here.valid(ended)).toBe(false);
    expect(there.valid(ended)).toBe(false);
    expect(there.valid(kept)).toBe(true);
  });

  it('ignores a logout of a cookie it did not sign', async () => {
    const store = new MemorySharedStateStore();
    const sessions = new AdminSessions(new AdminSigner(TOKEN), store);
    const published = jest.spyOn(store, 'publish');
    await sessions.revoke('1.forged.mac');
    expect(published).not.toHaveBeenCalled();
  });
});
