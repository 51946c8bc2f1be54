import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { redactMessage } from '../classification/redaction';
import { SharedStateStore, type SharedStateMessage } from './shared-state-store';

/**
 * Shares breaker transitions through Redis pub/sub (ioredis), and keeps each breaker's last state in a key for
 * instances that start later. Redis slow or down: commands fail fast (no offline queue, short timeouts), the
 * breakers go on with their local state, and one warning says so until Redis is back.
 */
export class RedisSharedStateStore extends SharedStateStore {
  private readonly logger = new Logger('DatabaseResilience');
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly channel: string;
  private warned = false;

  constructor(
    url: string,
    private readonly keyPrefix: string,
    timeoutMs: number,
  ) {
    super();
    this.channel = `${keyPrefix}:events`;
    const options = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: timeoutMs,
      retryStrategy: (attempt: number) => Math.min(attempt * 250, 2000),
      lazyConnect: false,
    };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true, commandTimeout: undefined });
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (error: Error) => this.unavailable(error));
      client.on('ready', () => this.available());
    }
  }

  async publish(message: SharedStateMessage): Promise<void> {
    const json = JSON.stringify(message);
    const write =
      message.kind === 'breaker'
        ? this.publisher
            .multi()
            .set(`${this.keyPrefix}:breaker:${message.name}`, json)
            .publish(this.channel, json)
            .exec()
        : this.publisher.publish(this.channel, json);
    await write.then(
      () => undefined,
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
    this.subscriber.on('message', (_channel: string, json: string) => {
      try {
        const message = JSON.parse(json) as SharedStateMessage;
        if (message.origin !== this.origin) listener(message);
      } catch {
        // not ours
      }
    });
  }

  async lastBreakerStates(): Promise<SharedStateMessage[]> {
    try {
      const keys = await this.publisher.keys(`${this.keyPrefix}:breaker:*`);
      const values = keys.length ? await this.publisher.mget(...keys) : [];
      return values.flatMap((json) => (json ? [JSON.parse(json) as SharedStateMessage] : []));
    } catch (error) {
      this.unavailable(error as Error);
      return [];
    }
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private unavailable(error: Error): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      `Redis unavailable for the shared circuit-breaker state (${redactMessage(error.message)}): breakers use their local state until it is back`,
    );
  }

  private available(): void {
    if (!this.warned) return;
    this.warned = false;
    this.logger.log('Redis is back: circuit-breaker state is shared again');
  }
}
