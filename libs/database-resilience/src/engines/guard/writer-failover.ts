import type { ResilienceEvents } from '../../events/resilience-events';
import type { ConnectionState } from './connection-state';

/** Why the writer's connections were evicted. */
export type EvictionCause = 'read-only' | 'lost';

/**
 * The primary's connections in generations. A read-only answer to a write (a demoted writer behind a cluster
 * endpoint), or a session lost, says that every connection opened until then may lead to a server that is no
 * longer the writer: the generation moves on, and connections of an older one are destroyed instead of lent or
 * pooled again (idle ones at their next borrow). A stale connection's failure is not the server's: the breaker
 * hears a read-only answer or a loss only from a connection opened after the eviction, while no write has
 * succeeded since (no writer yet). The first write that succeeds after an eviction ends the failover: one
 * `writer-changed` event when the writer is another server than before.
 */
export class WriterFailover {
  /** Connections opened now belong to this generation. */
  generation = 0;
  /** No write succeeded since the last eviction. */
  private awaitingWriter = false;
  private cause: EvictionCause = 'lost';
  private evictedAt = 0;
  private evicted = 0;
  /** The writer as the server names itself (host:port), read after the first write and after each failover. */
  private writer: string | undefined;
  private identifying = false;
  private settling: Promise<void> = Promise.resolve();

  constructor(
    private readonly database: string,
    private readonly events: ResilienceEvents,
    /** The server's name for itself, read on a connection of the current generation; undefined if it cannot say. */
    private readonly identify: () => Promise<string | undefined>,
  ) {}

  /** The writer as it last named itself (undefined until it did). */
  get writerName(): string | undefined {
    return this.writer;
  }

  /**
   * A read-only answer evicted the writer's connections and no write has succeeded since: other answers (reads,
   * BEGIN) come from a server that may still be read-only, and say nothing of whether there is a writer.
   */
  get awaitingWritable(): boolean {
    return this.awaitingWriter && this.cause === 'read-only';
  }

  /** Whether the connection was opened before the last eviction (it must not be lent or pooled again). */
  isStale(state: ConnectionState): boolean {
    return state.role === 'primary' && state.generation < this.generation;
  }

  /** Marks a connection opened before the last eviction for destruction (at a borrow or a release); whether it is one. */
  evictIfStale(state: ConnectionState): boolean {
    if (!this.isStale(state)) return false;
    if (!state.doomed) {
      state.doomed = true;
      this.evicted++;
    }
    return true;
  }

  /**
   * A primary connection answered read-only or was lost. Returns whether the breaker counts it: only when the
   * connection was opened after an eviction and no writer has answered since.
   */
  failed(state: ConnectionState, cause: EvictionCause): boolean {
    if (state.generation < this.generation) {
      this.evicted++; // stale: its generation was evicted already
      return false;
    }
    const counts = this.awaitingWriter;
    if (!counts) {
      this.evictedAt = Date.now();
      this.evicted = 1;
      this.cause = cause;
    } else {
      this.evicted++;
      if (cause === 'read-only') this.cause = cause;
    }
    this.awaitingWriter = true;
    this.generation++;
    return counts;
  }

  /** A write or COMMIT succeeded on a primary connection. Cheap when no failover is under way. */
  wrote(state: ConnectionState): void {
    if (this.awaitingWriter) {
      if (state.generation < this.generation) return;
      this.awaitingWriter = false;
      this.settle(Date.now() - this.evictedAt, this.evicted);
    } else if (this.writer === undefined && !this.identifying) {
      this.identifying = true;
      this.identify().then(
        (name) => (this.writer = name),
        () => (this.identifying = false), // asked again at a later write
      );
    }
  }

  /**
   * One settling at a time: a connection opened while the endpoint still led to the old writer can start a second
   * eviction after the first write succeeded, and it must read the writer the first one found, not the old one.
   */
  private settle(writesFailedMs: number, evicted: number): void {
    this.settling = this.settling.then(() => {
      const previous = this.writer;
      return this.identify().then(
        (current) => this.announce(previous, current, writesFailedMs, evicted),
        () => this.announce(previous, undefined, writesFailedMs, evicted),
      );
    });
  }

  private announce(
    previous: string | undefined,
    current: string | undefined,
    writesFailedMs: number,
    evicted: number,
  ): void {
    if (current !== undefined) this.writer = current;
    // The same server again (a restart, a killed connection, a writer read-only for a while) is not a failover.
    if (previous === undefined || current === undefined || previous === current) return;
    this.events.emit({
      type: 'writer-changed',
      at: Date.now(),
      database: this.database,
      previous: previous ?? null,
      current: current ?? null,
      evicted,
      writesFailedMs,
    });
  }
}
