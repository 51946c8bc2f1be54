import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { SharedStateStore, type SharedStateMessage } from '../shared-state/shared-state-store';
import { AdminSigner } from './admin-access';

/** Revoked sessions kept at most (each until it would have expired anyway): a flood cannot grow memory for ever. */
const MAX_REVOKED = 10_000;

/**
 * The dashboard's sessions: signed cookies that logout really ends. A logout revokes that session on every
 * instance (through the shared store, and in it for instances that start later) until it would have expired.
 */
@Injectable()
export class AdminSessions implements OnApplicationBootstrap {
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly signer: AdminSigner,
    private readonly store: SharedStateStore,
  ) {
    store.subscribe((message) => this.apply(message));
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const message of await this.store.storedStates()) this.apply(message);
  }

  /** A new session cookie value. */
  issue(ttlMs: number): string {
    return this.signer.session(ttlMs, randomBytes(18).toString('base64url'));
  }

  valid(value: string | undefined): boolean {
    const session = this.signer.sessionOf(value);
    return session !== undefined && !this.revoked.has(session.sid);
  }

  /** Ends the session here and on every instance; resolves once the others have been told, never rejects. */
  async revoke(value: string | undefined): Promise<void> {
    const session = this.signer.sessionOf(value);
    if (!session) return;
    const message: SharedStateMessage = { kind: 'session-revoked', origin: this.store.origin, ...session };
    this.apply(message);
    await this.store.publish(message);
  }

  private apply(message: SharedStateMessage): void {
    if (message.kind !== 'session-revoked') return;
    const now = Date.now();
    if (this.revoked.size >= MAX_REVOKED) {
      for (const [sid, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(sid);
      if (this.revoked.size >= MAX_REVOKED) this.revoked.delete(this.revoked.keys().next().value!);
    }
    if (message.expiresAt > now) this.revoked.set(message.sid, message.expiresAt);
  }
}
