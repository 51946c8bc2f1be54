import { z } from 'zod';

const cents = z.number().int().min(0).max(1e12);

export const openAccountSchema = z.strictObject({ owner: z.string().min(1).max(100), balance: cents });
export type OpenAccount = z.infer<typeof openAccountSchema>;

export const transferSchema = z
  .strictObject({ fromId: z.number().int().positive(), toId: z.number().int().positive(), amount: cents.min(1) })
  .refine((t) => t.fromId !== t.toId, { error: 'fromId and toId must differ', path: ['toId'] });
export type TransferRequest = z.infer<typeof transferSchema>;

export const accountIdSchema = z.coerce.number().int().positive();

/** Optional `Idempotency-Key` header of a transfer: settles a commit whose outcome is unknown. */
export const idempotencyKeySchema = z.string().min(1).max(191).optional();
