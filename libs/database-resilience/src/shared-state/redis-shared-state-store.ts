import type { Redis } from 'ioredis';
import { redisClient } from './redis-client';
import { redactMessage } from '../classification/redaction';
import { decodeMessage, encodeMessage } from './shared-state-message';
import { SharedStateStore, type SharedStateMessage } from './shared-state-store';
import { ResilienceLogger } from '../events/resilience-logger';

/** Sources (keys, the channel) named in a warning about a bad entry: each once, up to this many. */
const WARNED_SOURCES_LIMIT = 100;

/**
 * Shares breaker transitions through Redis pub/sub (ioredis), and keeps each breaker's last state in a key for
 * instances that start later. Redis slow or down: commands fail fast (no offline queue, short timeouts), the
 * breakers go on with their local state, and one warning says so until Redis is back.
 */
/**
 * KEYS: owner, count; ARGV: origin, ttl ms, occurrences. Adds the occurrences to the fleet's count (kept twice
 * the cooldown) and claims the alert if nobody holds it: 1 for the claimant, 0 for the others.
 */
const CLAIM_ALERT = `
local won = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
if won then return 1 else return 0 end`;

/** How often a Redis that stopped answering is asked whether it answers again. */
const PING_EVERY_MS = 1_000;

export class RedisSharedStateStore extends SharedStateStore {
  private readonly logger = new ResilienceLogger();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private warned = false;
  /** The PING that watches for Redis to answer again, while it does not. */
  private pinging?: NodeJS.Timeout;
  private closed = false;
  private readonly warnedSources = new Set<string>();
  /** Keys and messages read from Redis and ignored: not valid, or not signed with the secret. */
  ignored = 0;

  /** `secrets`: sign with the first, accept any (rotation); none: messages go unsigned. */
  constructor(
    url: string,
    private readonly keyPrefix: string,
    private readonly timeoutMs: number,
    private readonly secrets: readonly string[] = [],
  ) {
    super();
    this.channel = `${keyPrefix}:events`;
    this.publisher = redisClient(url, timeoutMs, { lazyConnect: false });
    this.subscriber = redisClient(url, timeoutMs, { enableOfflineQueue: true, commandTimeout: undefined });
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (error: Error) => this.unavailable(error));
      client.on('ready', () => this.available());
    }
  }

  async publish(message: SharedStateMessage): Promise<void> {
    const json = encodeMessage(message, this.secrets);
    const key = this.keyOf(message);
    const multi = this.publisher.multi();
    if (message.kind === 'session-revoked') multi.set(key!, json, 'PXAT', message.expiresAt);
    else if (key) multi.set(key, json);
    const write = multi.publish(this.channel, json).exec();
    await write.then(
      () => this.available(),
      (error: Error) => this.unavailable(error),
    );
  }

  async ready(timeoutMs: number): Promise<void> {
    const both = [this.publisher, this.subscriber].map((client) =>
      client.status === 'ready'
        ? Promise.resolve()
        : new Promise<void>((resolve) => client.once('ready', () => resolve())),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(both), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  subscribe(listener: (message: SharedStateMessage) => void): void {
    this.subscriber.subscribe(this.channel).catch((error: Error) => this.unavailable(error));
    this.subscriber.on('message', (channel: string, raw: unknown) => {
      const message = this.read(raw, `channel ${channel}`);
      if (message === undefined || message.origin === this.origin) return;
      try {
        listener(message);
      } catch (error) {
        this.logger.warn(`A shared-state message could not be applied: ${redactMessage((error as Error).message)}`, {
          event: 'shared-state-not-applied',
        });
      }
    });
  }

  override async claimAlert(key: string, ttlMs: number, occurrences: number): Promise<boolean | undefined> {
    try {
      const won = await this.publisher.eval(
        CLAIM_ALERT,
        2,
        `${this.keyPrefix}:alert:${key}:owner`,
        `${this.keyPrefix}:alert:${key}:count`,
        this.origin,
        String(ttlMs),
        String(occurrences),
      );
      this.available();
      return won === 1;
    } catch (error) {
      this.unavailable(error as Error);
      return undefined;
    }
  }

  override async takeAlertCount(key: string): Promise<number | undefined> {
    const source = `key ${this.keyPrefix}:alert:${key}:count`;
    let raw: string | null;
    try {
      raw = await this.publisher.getdel(`${this.keyPrefix}:alert:${key}:count`);
    } catch (error) {
      this.unavailable(error as Error);
      return undefined;
    }
    if (raw === null) return 0;
    // What Redis holds is untrusted: a count or nothing.
    if (!/^\d{1,15}$/.test(raw)) {
      this.ignore(source, 'is not a count');
      return undefined;
    }
    return Number(raw);
  }

  /** Where a message is kept for instances that start later (breaker states, revoked sessions). */
  private keyOf(message: SharedStateMessage): string | undefined {
    if (message.kind === 'breaker') return `${this.keyPrefix}:breaker:${message.name}`;
    if (message.kind === 'session-revoked') return `${this.keyPrefix}:session-revoked:${message.sid}`;
    return undefined;
  }

  /** Each key read on its own: a bad one is skipped (and named), the good ones beside it are kept. */
  async storedStates(): Promise<SharedStateMessage[]> {
    await this.ready(this.timeoutMs * 4); // at start-up the connection may still be on its way
    let keys: string[];
    let values: Array<string | null>;
    try {
      keys = [
        ...(await this.publisher.keys(`${this.keyPrefix}:breaker:*`)),
        ...(await this.publisher.keys(`${this.keyPrefix}:session-revoked:*`)),
      ];
      values = keys.length ? await this.publisher.mget(...keys) : [];
    } catch (error) {
      this.unavailable(error as Error);
      return [];
    }
    return keys.flatMap((key, i) => {
      const message = this.read(values[i], `key ${key}`);
      if (message === undefined) return [];
      // A key holds the state it is named after, nothing else.
      if (this.keyOf(message) !== key) {
        this.ignore(`key ${key}`, 'holds another entry than its name says');
        return [];
      }
      return [message];
    });
  }

  /** The message in a value from Redis, or undefined (ignored, counted, warned about once per source). */
  private read(raw: unknown, source: string): SharedStateMessage | undefined {
    if (raw === null) return undefined; // the key went away meanwhile
    const decoded = decodeMessage(raw, this.secrets);
    if ('message' in decoded) return decoded.message;
    this.ignore(source, decoded.problem);
    return undefined;
  }

  private ignore(source: string, problem: string): void {
    this.ignored++;
    const shown = source.length > 200 ? `${source.slice(0, 200)}…` : source;
    if (this.warnedSources.has(shown) || this.warnedSources.size >= WARNED_SOURCES_LIMIT) return;
    this.warnedSources.add(shown);
    this.logger.warn(`Ignored shared state from Redis ${JSON.stringify(shown)}: ${problem}`, {
      event: 'shared-state-ignored',
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.pinging);
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private unavailable(error: Error): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      `Redis unavailable for the shared circuit-breaker state (${redactMessage(error.message)}): breakers use their local state until it is back`,
      { event: 'redis-unavailable' },
    );
    this.watchUntilBack();
  }

  private available(): void {
    clearTimeout(this.pinging);
    this.pinging = undefined;
    if (!this.warned) return;
    this.warned = false;
    this.logger.log('Redis is back: circuit-breaker state is shared again', { event: 'redis-back' });
  }

  /**
   * A command that timed out leaves the connection up: no 'ready' will say Redis answers again, and a publish may
   * not come for hours (breakers rarely change). A PING every {@link PING_EVERY_MS} (or the timeout, if longer)
   * until one is answered says it; a reconnection's 'ready' says it too.
   */
  private watchUntilBack(): void {
    if (this.pinging !== undefined || this.closed) return;
    this.pinging = setTimeout(
      () => {
        this.pinging = undefined;
        this.publisher.ping().then(
          () => this.available(),
          () => this.watchUntilBack(),
        );
      },
      Math.max(PING_EVERY_MS, this.timeoutMs),
    ).unref();
  }
}
