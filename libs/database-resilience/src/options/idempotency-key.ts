/** The longest idempotency key: what a utf8mb4 primary key holds in older InnoDB row formats, on every engine. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 191;

/** Throws a TypeError for a key that is not a string of 1 to 191 characters. */
export function validateIdempotencyKey(key: unknown): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new TypeError(`idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
}
