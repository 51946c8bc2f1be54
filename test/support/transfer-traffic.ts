/** One request of the traffic and what the client got. */
export interface TrafficAnswer {
  kind: 'read' | 'transfer';
  /** Transfers only: unique per request, so that the ledger row of each request can be found. */
  amount?: number;
  idempotencyKey?: string;
  status: number;
  code?: string;
  retryAfter: string | null;
  startedAt: number;
  ms: number;
}

/**
 * `callers` clients that each loop over reads and transfers against apps/api until stop() is called, like the
 * traffic a fault meets in production: some requests are always mid-flight, writes included. Each transfer moves
 * a unique amount (cents) between two of `accounts`, so that the ledger tells which requests were applied.
 */
export class TransferTraffic {
  readonly answers: TrafficAnswer[] = [];
  private stopped = false;
  private nextAmount = 1;
  private readonly running: Promise<void>[];

  constructor(
    private readonly base: string,
    private readonly accounts: number[],
    callers: number,
    private readonly withKeys = false,
  ) {
    this.running = Array.from({ length: callers }, (_, caller) => this.loop(caller));
  }

  /** Answers so far of this kind. */
  count(kind?: TrafficAnswer['kind']): number {
    return kind === undefined ? this.answers.length : this.answers.filter((a) => a.kind === kind).length;
  }

  async stop(): Promise<TrafficAnswer[]> {
    this.stopped = true;
    await Promise.all(this.running);
    return this.answers;
  }

  private async loop(caller: number): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      if ((caller + i) % 2 === 0) await this.read(i);
      else await this.transfer(caller, i);
    }
  }

  private async read(i: number): Promise<void> {
    const id = this.accounts[i % this.accounts.length];
    await this.send('read', `/accounts/${id}`, undefined);
  }

  private async transfer(caller: number, i: number): Promise<void> {
    const n = this.accounts.length;
    const fromId = this.accounts[(caller + i) % n];
    const toId = this.accounts[(caller + i + 1 + (i % (n - 1))) % n];
    if (fromId === toId) return;
    const amount = this.nextAmount++;
    const idempotencyKey = this.withKeys ? `traffic-${amount}` : undefined;
    await this.send('transfer', '/transfers', { fromId, toId, amount }, idempotencyKey);
  }

  private async send(kind: TrafficAnswer['kind'], path: string, body?: object, idempotencyKey?: string) {
    const startedAt = Date.now();
    const started = performance.now();
    try {
      const response = await fetch(`${this.base}${path}`, {
        method: body ? 'POST' : 'GET',
        headers: {
          ...(body ? { 'content-type': 'application/json' } : {}),
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { code?: string }).code;
      } catch {
        code = undefined;
      }
      this.answers.push({
        kind,
        amount: (body as { amount?: number } | undefined)?.amount,
        idempotencyKey,
        status: response.status,
        code,
        retryAfter: response.headers.get('retry-after'),
        startedAt,
        ms: performance.now() - started,
      });
    } catch {
      // the app closed under the test: nothing to record
    }
  }
}
