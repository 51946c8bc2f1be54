import { createHmac } from 'node:crypto';
import { decodeMessage, encodeMessage } from './shared-state-message';
import type { SharedStateMessage } from './shared-state-store';

const SECRET = 'a'.repeat(32);
const OTHER = 'b'.repeat(32);
const breaker = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({
    kind: 'breaker',
    origin: 'i-1',
    name: 'default',
    state: 'open',
    openedAt: Date.now(),
    forced: false,
    ...fields,
  });
const problemOf = (raw: unknown, secrets: string[] = []) =>
  'problem' in decodeMessage(raw, secrets) ? decodeMessage(raw, secrets) : undefined;

describe('shared-state messages: what comes from Redis is untrusted', () => {
  it('reads back what it wrote, plain and signed', () => {
    const message = { kind: 'degradation-reset', origin: 'i-1' } as SharedStateMessage;
    expect(decodeMessage(encodeMessage(message, []), [])).toEqual({ message });
    expect(decodeMessage(encodeMessage(message, [SECRET]), [SECRET])).toEqual({ message });
    expect(decodeMessage(encodeMessage(message, [OTHER]), [SECRET, OTHER])).toEqual({ message }); // rotating out
  });

  it.each([
    ['a non-numeric openedAt, open', breaker({ openedAt: 'soon' })],
    ['a non-numeric openedAt, half-open', breaker({ state: 'half-open', openedAt: 'soon' })],
    ['a non-numeric openedAt, closed', breaker({ state: 'closed', openedAt: '0' })],
    ['an openedAt from the future', breaker({ openedAt: Date.now() + 3_600_000 })],
    ['an open breaker opened before 2020', breaker({ openedAt: 1 })],
    ['an unknown state', breaker({ state: 'ajar' })],
    ['a name with spaces and quotes', breaker({ name: "x' OR 1=1" })],
    ['forced that is not a boolean', breaker({ forced: 'yes' })],
    ['a session id too short', JSON.stringify({ kind: 'session-revoked', origin: 'i', sid: 'short', expiresAt: 0 })],
    [
      'a revocation a year ahead',
      JSON.stringify({
        kind: 'session-revoked',
        origin: 'i',
        sid: 's'.repeat(20),
        expiresAt: Date.now() + 365 * 86_400_000,
      }),
    ],
    ['an unknown kind', JSON.stringify({ kind: 'shutdown', origin: 'i' })],
    ['null', 'null'],
    ['not JSON', '{'],
    ['too long', 'x'.repeat(20_001)],
    ['not a string', 42],
  ])('refuses %s, in words that hold none of the value', (_case, raw) => {
    const decoded = problemOf(raw);
    expect(decoded).toEqual({ problem: expect.any(String) });
    expect(JSON.stringify(decoded)).not.toMatch(/OR 1=1|soon|ajar|shutdown/);
  });

  it('accepts a closed or half-open breaker whose openedAt is 0 (never opened here)', () => {
    expect(decodeMessage(breaker({ state: 'closed', openedAt: 0 }), [])).toHaveProperty('message');
    expect(decodeMessage(breaker({ state: 'half-open', openedAt: 0 }), [])).toHaveProperty('message');
  });

  it('with secrets: refuses the unsigned, the badly signed and one signed with another secret of the right length', () => {
    const body = breaker();
    const signedWith = (secret: string) =>
      JSON.stringify({ body, sig: createHmac('sha256', secret).update(body).digest('hex') });
    expect(decodeMessage(signedWith(SECRET), [SECRET])).toHaveProperty('message');
    expect(problemOf(body, [SECRET])).toEqual({ problem: 'not signed' });
    expect(problemOf(signedWith(OTHER), [SECRET])).toEqual({ problem: 'bad signature' });
    expect(problemOf(JSON.stringify({ body, sig: '0'.repeat(64) }), [SECRET])).toEqual({ problem: 'bad signature' });
    // The signature covers the bytes read: a body changed after signing fails.
    const tampered = JSON.parse(signedWith(SECRET)) as { body: string; sig: string };
    tampered.body = tampered.body.replace('"open"', '"closed"');
    expect(problemOf(JSON.stringify(tampered), [SECRET])).toEqual({ problem: 'bad signature' });
  });
});
