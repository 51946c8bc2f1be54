import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { SharedStateMessage } from './shared-state-store';

/** Breaker names are DataSource names (or names given to `@DatabaseErrorHandler`): short and plain. */
const NAME = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\w.:@-]+$/);
const EARLIEST = Date.UTC(2020, 0, 1);
/** Clocks of a fleet differ a little; a time further ahead than this is no instance's. */
const CLOCK_SKEW_MS = 60_000;

const breakerMessage = z
  .object({
    kind: z.literal('breaker'),
    origin: z.string().min(1).max(100),
    name: NAME,
    state: z.enum(['closed', 'open', 'half-open']),
    openedAt: z.number().int().min(0),
    forced: z.boolean(),
  })
  .refine((m) => m.openedAt <= Date.now() + CLOCK_SKEW_MS && (m.state !== 'open' || m.openedAt >= EARLIEST), {
    error: 'openedAt out of range',
  });
const degradationReset = z.object({ kind: z.literal('degradation-reset'), origin: z.string().min(1).max(100) });
/** Sessions last at most 7 days (admin.sessionTtlMs); a revocation further ahead is no instance's. */
const sessionRevoked = z
  .object({
    kind: z.literal('session-revoked'),
    origin: z.string().min(1).max(100),
    sid: z.string().regex(/^[\w-]{16,64}$/),
    expiresAt: z.number().int(),
  })
  .refine((m) => m.expiresAt <= Date.now() + 7 * 86_400_000 + CLOCK_SKEW_MS, { error: 'expiresAt out of range' });
const messageSchema = z.union([breakerMessage, degradationReset, sessionRevoked]);

/** With a secret, what goes over Redis: the message's JSON and its HMAC-SHA256, so that the bytes signed are the bytes read. */
const envelope = z.object({ body: z.string().max(10_000), sig: z.string().regex(/^[0-9a-f]{64}$/) });

function hmac(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** The wire form of a message: plain JSON, or signed with the first secret. */
export function encodeMessage(message: SharedStateMessage, secrets: readonly string[]): string {
  const body = JSON.stringify(message);
  if (secrets.length === 0) return body;
  return JSON.stringify({ body, sig: hmac(secrets[0], body).toString('hex') });
}

export type DecodedMessage = { message: SharedStateMessage } | { problem: string };

/**
 * Reads what came from Redis (a key's value or a pub/sub message). Never throws: anything that is not a valid
 * message — not JSON, `null`, a wrong shape, a name or time out of range, unsigned or badly signed when secrets
 * are set (any of them verifies: the current one and the one being rotated out) — is a problem, said in words
 * that hold none of the value.
 */
export function decodeMessage(raw: unknown, secrets: readonly string[]): DecodedMessage {
  if (typeof raw !== 'string' || raw.length > 20_000) return { problem: 'not a message' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { problem: 'not JSON' };
  }
  if (secrets.length > 0) {
    const signed = envelope.safeParse(parsed);
    if (!signed.success) return { problem: 'not signed' };
    const sig = Buffer.from(signed.data.sig, 'hex');
    if (!secrets.some((secret) => timingSafeEqual(hmac(secret, signed.data.body), sig))) {
      return { problem: 'bad signature' };
    }
    try {
      parsed = JSON.parse(signed.data.body);
    } catch {
      return { problem: 'not JSON' };
    }
  }
  const checked = messageSchema.safeParse(parsed);
  if (!checked.success) return { problem: 'not a valid shared-state message' };
  return { message: checked.data as SharedStateMessage };
}
