import type { ResilienceLogger } from '../../events/resilience-logger';

/**
 * Which replica a read goes to: one picked at random among those not resting; a replica that failed rests
 * `retryMs` (reads go to the others, or to the primary), its outage said once, and again after it served a read.
 */
export class ReplicaRouting<P> {
  private readonly downUntil = new Map<P, number>();
  private readonly warned = new Set<P>();

  constructor(
    private readonly database: string,
    private readonly retryMs: number,
    private readonly logger: ResilienceLogger,
  ) {}

  /** A replica to read from now, or undefined: every one is resting. */
  pick<R extends { readonly pool: P }>(replicas: readonly R[]): R | undefined {
    const now = Date.now();
    const candidates = replicas.filter(({ pool }) => (this.downUntil.get(pool) ?? 0) <= now);
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  /** It served a read: its next outage is said again. */
  served(pool: P): void {
    this.warned.delete(pool);
  }

  /** It failed: it rests `retryMs`; said once per outage. */
  down(pool: P, node: string): void {
    const wasUp = (this.downUntil.get(pool) ?? 0) <= Date.now();
    this.downUntil.set(pool, Date.now() + this.retryMs);
    if (!wasUp || this.warned.has(pool)) return;
    this.warned.add(pool);
    this.logger.warn(
      `Replica ${node} of database "${this.database}" does not answer: its reads go elsewhere for ${this.retryMs} ms`,
      { event: 'replica-unavailable', database: this.database, node },
    );
  }
}
