import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ThrottlerException, ThrottlerStorageService } from '@nestjs/throttler';
import type { ResolvedResilienceOptions } from '../options/options.schema';
import { RESILIENCE_OPTIONS } from '../options/resilience-options.token';

interface ClientRequest {
  ip?: string;
  socket?: { remoteAddress?: string };
}

const THROTTLER = 'database-resilience-admin-auth';
/** Blocked addresses kept at most: past it the oldest block goes first, so churn cannot lift everyone's. */
const MAX_BLOCKED = 10_000;

/**
 * Failed admin authentications (a wrong bearer token, an invalid session, a failed login) counted per client
 * address with @nestjs/throttler's storage: past `admin.authFailureLimit` within `admin.authFailureWindowMs`, the
 * address gets 429 for a window, right token or not, so that tokens cannot be guessed at speed. Successful
 * requests are never counted. Behind a proxy, set Express' `trust proxy` so that the address is the client's.
 * Counted per instance: behind a load balancer that spreads requests, each instance lets an address through its
 * own `authFailureLimit`.
 */
@Injectable()
export class AdminAuthThrottle implements OnModuleDestroy {
  private readonly storage = new ThrottlerStorageService();
  private readonly blockedUntil = new Map<string, number>();

  constructor(@Inject(RESILIENCE_OPTIONS) private readonly options: ResolvedResilienceOptions) {}

  /** The storage's sweep timer goes with the module. */
  onModuleDestroy(): void {
    this.storage.onApplicationShutdown();
  }

  /** Throws 429 while the client is blocked. */
  check(request: ClientRequest): void {
    const key = keyOf(request);
    const until = this.blockedUntil.get(key);
    if (until === undefined) return;
    if (until > Date.now()) throw new ThrottlerException('Too many failed admin authentications; try again later');
    this.blockedUntil.delete(key);
  }

  /** Counts a failure; throws 429 once the limit is passed. */
  async failed(request: ClientRequest): Promise<void> {
    const { authFailureLimit: limit, authFailureWindowMs: windowMs } = this.options.admin;
    const key = keyOf(request);
    const record = await this.storage.increment(key, windowMs, limit, windowMs, THROTTLER);
    if (!record.isBlocked) return;
    this.blockedUntil.delete(key); // re-blocked: now the newest
    if (this.blockedUntil.size >= MAX_BLOCKED) this.evict();
    this.blockedUntil.set(key, Date.now() + record.timeToBlockExpire * 1000);
    throw new ThrottlerException('Too many failed admin authentications; try again later');
  }

  /** Drops the blocks that ran out, else the oldest one (a Map keeps insertion order). */
  private evict(): void {
    const now = Date.now();
    for (const [key, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(key);
    if (this.blockedUntil.size >= MAX_BLOCKED) this.blockedUntil.delete(this.blockedUntil.keys().next().value!);
  }
}

function keyOf(request: ClientRequest): string {
  return `admin-auth:${request.ip ?? request.socket?.remoteAddress ?? 'unknown'}`;
}
