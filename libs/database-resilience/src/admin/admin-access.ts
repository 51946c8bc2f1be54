import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Names of the cookies the dashboard sets; both scoped to the admin path, SameSite=Strict. */
export const SESSION_COOKIE = 'dr_admin_session';
export const CSRF_COOKIE = 'dr_admin_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** Whether `given` is the configured token, compared in constant time (digests: equal lengths whatever is given). */
export function tokenMatches(given: string, token: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization` header, if any. */
export function bearerOf(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

/** The request's cookies, from its `Cookie` header (no cookie-parser needed). */
export function cookiesOf(header: unknown): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (typeof header !== 'string') return cookies;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    try {
      cookies[name] = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      // a malformed cookie is ignored
    }
  }
  return cookies;
}

/**
 * Signs and checks the dashboard's values with a secret: the session cookie (`expiry.mac`) and the CSRF token
 * (`random.mac`, a signed double-submit token: a cookie planted by a sibling subdomain cannot be forged).
 */
export class AdminSigner {
  private readonly secret: Buffer;

  /**
   * From the token when there is one (every instance sharing it accepts the others' cookies), else random (one
   * signer per app: the module provides it).
   */
  constructor(token: string | undefined) {
    this.secret = token
      ? createHash('sha256').update(`nestjs-database-resilience admin:${token}`).digest()
      : randomBytes(32);
  }

  /** A session cookie's value: `expiry.sid.mac`; the id lets a logout revoke this session alone. */
  session(ttlMs: number, sid: string, now = Date.now()): string {
    const expiry = String(now + ttlMs);
    return `${expiry}.${sid}.${this.mac(`session:${expiry}:${sid}`)}`;
  }

  /** The id and expiry of a session cookie this signer made and that has not expired; undefined otherwise. */
  sessionOf(value: string | undefined, now = Date.now()): { sid: string; expiresAt: number } | undefined {
    if (!value) return undefined;
    const [expiry, sid, mac, extra] = value.split('.');
    const expiresAt = Number(expiry);
    if (extra !== undefined || sid === undefined || mac === undefined || !(expiresAt > now)) return undefined;
    return this.equal(mac, this.mac(`session:${expiry}:${sid}`)) ? { sid, expiresAt } : undefined;
  }

  csrfToken(): string {
    const nonce = randomBytes(18).toString('base64url');
    return `${nonce}.${this.mac(`csrf:${nonce}`)}`;
  }

  /** The header and the cookie carry the same token, and it is one of ours. */
  csrfValid(header: unknown, cookie: string | undefined): boolean {
    if (typeof header !== 'string' || !cookie || !this.equal(header, cookie)) return false;
    const [nonce, mac] = header.split('.');
    return nonce !== undefined && mac !== undefined && this.equal(mac, this.mac(`csrf:${nonce}`));
  }

  private mac(value: string): string {
    return createHmac('sha256', this.secret).update(value).digest('base64url');
  }

  private equal(a: string, b: string): boolean {
    const left = Buffer.from(a);
    const right = Buffer.from(b);
    return left.length === right.length && timingSafeEqual(left, right);
  }
}

/** A `Set-Cookie` value: HttpOnly unless the page's script must read it, SameSite=Strict, on the admin path. */
export function setCookie(
  name: string,
  value: string,
  path: string,
  options: { httpOnly: boolean; maxAgeS: number; secure: boolean },
): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${path}`,
    `Max-Age=${options.maxAgeS}`,
    'SameSite=Strict',
    ...(options.httpOnly ? ['HttpOnly'] : []),
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}
