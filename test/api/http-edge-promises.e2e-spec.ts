import { CircuitBreakerRegistry, ErrorStatisticsService, RESILIENCE_METRICS } from 'nestjs-database-resilience';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { API_TEST_ENV, startApiBehindProxy, type ApiBehindProxy } from '../support/api-behind-proxy';
import { TransferTraffic, type TrafficAnswer } from '../support/transfer-traffic';

const REQUEST_DEADLINE_MS = 1500;
const HEALTH_INTERVAL_MS = 500;
const HEALTH_TIMEOUT_MS = 300;
/** What an answer may take past its deadline on a loaded 2-core machine (timers, GC, the test's own traffic). */
const MARGIN_MS = 1000;
const HANG_MS = 10_000;
const CALLERS = 20;
const BALANCE = 1_000_000_000;

/**
 * The library's two promises, tried as a client meets them: apps/api behind a fault proxy, faults started while
 * 20 callers are mid-request (reads and transfers). The breaker's options are left at their defaults: the
 * scheduled health check closes it in time (not the 60 s recovery timeout), and Retry-After must say so; the
 * breaker's own probes (a request let through 1 s after it opens, then after each doubled wait) are the only
 * requests that reach the server while it is open.
 */
describe('apps/api: no double-applied commit, no answer past its deadline (faults under traffic)', () => {
  let api: ApiBehindProxy;

  beforeAll(async () => {
    api = await startApiBehindProxy({
      ...API_TEST_ENV,
      RESILIENCE_REQUEST_DEADLINE_MS: String(REQUEST_DEADLINE_MS),
      RESILIENCE_HEALTH_CHECK_INTERVAL_MS: String(HEALTH_INTERVAL_MS),
      RESILIENCE_HEALTH_CHECK_TIMEOUT_MS: String(HEALTH_TIMEOUT_MS),
      RESILIENCE_BREAKER_RECOVERY_TIMEOUT_MS: '',
    });
  }, 120_000);

  afterAll(() => api?.close());

  const breaker = () => api.app.get(CircuitBreakerRegistry).get('default');
  const metrics = async () => (await fetch(`${api.base}/metrics`)).text();
  const metricValue = (text: string, name: string, labels: string) =>
    Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);

  /** Four fresh accounts with plenty of money: no transfer is refused for funds. */
  async function openAccounts(): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${api.base}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ owner: `edge-${i}`, balance: BALANCE }),
      });
      expect(response.status).toBe(201);
      ids.push(((await response.json()) as { id: number }).id);
    }
    return ids;
  }

  /**
   * The ledger against what the clients were told: a transfer answered 201 is there exactly once, one whose
   * outcome was reported unknown at most once, any other answer means it is not there; every row is a request's;
   * each balance is its opening balance plus what the ledger moved.
   */
  async function expectLedgerMatches(accounts: number[], answers: TrafficAnswer[]): Promise<void> {
    const db = await api.server.connect('test');
    try {
      const list = accounts.join(',');
      const [rows] = (await db.query(
        `SELECT fromId, toId, amount FROM transfer WHERE fromId IN (${list}) AND toId IN (${list})`,
      )) as unknown as [Array<{ fromId: number; toId: number; amount: string }>];
      const applied = new Map<number, number>();
      for (const row of rows) applied.set(Number(row.amount), (applied.get(Number(row.amount)) ?? 0) + 1);
      const transfers = answers.filter((a) => a.kind === 'transfer');
      for (const answer of transfers) {
        const times = applied.get(answer.amount!) ?? 0;
        if (answer.status === 201) expect({ ...answer, times }).toMatchObject({ times: 1 });
        else if (answer.code === 'DATABASE_COMMIT_OUTCOME_UNKNOWN') expect(times).toBeLessThanOrEqual(1);
        else expect({ ...answer, times }).toMatchObject({ times: 0 });
      }
      const asked = new Set(transfers.map((a) => a.amount));
      expect([...applied.keys()].filter((amount) => !asked.has(amount))).toEqual([]);
      const [balances] = (await db.query(`SELECT id, balance FROM account WHERE id IN (${list})`)) as unknown as [
        Array<{ id: number; balance: string }>,
      ];
      for (const { id, balance } of balances) {
        let expected = BALANCE;
        for (const row of rows) {
          if (row.fromId === id) expected -= Number(row.amount);
          if (row.toId === id) expected += Number(row.amount);
        }
        expect({ id, balance: Number(balance) }).toEqual({ id, balance: expected });
      }
    } finally {
      await db.end();
    }
  }

  /** 20 callers' traffic, a COMMIT cut once it flows, traffic going on after the cut; what the clients got. */
  async function cutCommitUnderTraffic(accounts: number[], withKeys: boolean): Promise<TrafficAnswer[]> {
    const traffic = new TransferTraffic(api.base, accounts, CALLERS, withKeys);
    await waitUntil(async () => traffic.count('transfer') >= 20, 'transfers to flow', 30_000);
    const faults = api.proxy.faultsInjected;
    api.proxy.cutAfterNextCommit();
    await waitUntil(async () => api.proxy.faultsInjected > faults, 'a COMMIT to be cut', 30_000);
    const atCut = traffic.count();
    await waitUntil(async () => traffic.count() >= atCut + 40, 'traffic to go on after the cut', 30_000);
    return traffic.stop();
  }

  it('COMMIT cut under traffic, no Idempotency-Key: 500 DATABASE_COMMIT_OUTCOME_UNKNOWN without Retry-After, recorded and counted as such; applied at most once', async () => {
    const accounts = await openAccounts();
    const before = await metrics();
    const answers = await cutCommitUnderTraffic(accounts, false);

    const unknown = answers.filter((a) => a.code === 'DATABASE_COMMIT_OUTCOME_UNKNOWN');
    expect(unknown).toEqual([expect.objectContaining({ kind: 'transfer', status: 500, retryAfter: null })]);
    expect(answers.filter((a) => a.status >= 500 && a !== unknown[0] && a.code !== 'DATABASE_BUSY')).toEqual([]);
    await expectLedgerMatches(accounts, answers);

    // What is recorded and counted is what the client was told.
    const recorded = api.app
      .get(ErrorStatisticsService)
      .recentErrors(200)
      .filter((e) => e.category === 'commit_outcome_unknown');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ route: 'POST /transfers', outcome: 'failed' });
    const after = await metrics();
    const delta = (labels: string) =>
      metricValue(after, RESILIENCE_METRICS.errors, labels) - metricValue(before, RESILIENCE_METRICS.errors, labels);
    expect(delta('database="default",category="commit_outcome_unknown",severity="critical"')).toBe(1);
    expect(delta('database="default",category="connection",severity="critical"')).toBe(0);
  }, 90_000);

  it('COMMIT cut under traffic, with Idempotency-Key: settled by the marker, 201, applied exactly once', async () => {
    const accounts = await openAccounts();
    const settledLabels = 'database="default",committed="true"';
    const before = metricValue(await metrics(), RESILIENCE_METRICS.ambiguousCommits, settledLabels);
    const answers = await cutCommitUnderTraffic(accounts, true);

    expect(metricValue(await metrics(), RESILIENCE_METRICS.ambiguousCommits, settledLabels)).toBe(before + 1);
    expect(answers.filter((a) => a.code === 'DATABASE_COMMIT_OUTCOME_UNKNOWN')).toEqual([]);
    expect(answers.filter((a) => a.status >= 500 && a.code !== 'DATABASE_BUSY')).toEqual([]);
    await expectLedgerMatches(accounts, answers);
  }, 90_000);

  it('server hung 10 s under traffic: every read and write answered within its deadline, then 503 without touching the server; Retry-After matches the recovery; the ledger holds', async () => {
    const accounts = await openAccounts();
    await waitUntil(async () => breaker().state === 'closed', 'the breaker to be closed', 15_000);
    const traffic = new TransferTraffic(api.base, accounts, CALLERS);
    await waitUntil(async () => traffic.count('transfer') >= 20, 'transfers to flow', 30_000);
    const pausedAt = Date.now();
    api.server.pause();
    let resumedAt = 0;
    let openWindow: { attempts: number; ms: number };
    try {
      await waitUntil(async () => breaker().state === 'open', 'the breaker to open', HANG_MS);
      // Requests that were in flight before it opened have all ended (deadline): from now on only the health
      // check may open connections.
      const windowStart = Date.now() + REQUEST_DEADLINE_MS + MARGIN_MS;
      await new Promise((resolve) => setTimeout(resolve, windowStart - Date.now()));
      const acceptedBefore = api.proxy.accepted;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1000, pausedAt + HANG_MS - Date.now())));
      openWindow = { attempts: api.proxy.accepted - acceptedBefore, ms: Date.now() - windowStart };
    } finally {
      api.server.resume();
      resumedAt = Date.now();
    }
    await waitUntil(
      async () => traffic.answers.some((a) => a.startedAt >= resumedAt && a.status < 300),
      'a request to succeed after the hang',
      15_000,
    );
    const atRecovery = traffic.count();
    await waitUntil(async () => traffic.count() >= atRecovery + 40, 'traffic to go on', 30_000);
    const answers = await traffic.stop();

    // No answer outlived its deadline by more than the margin: not the reads, not the writes in flight.
    const late = answers.filter((a) => a.ms > REQUEST_DEADLINE_MS + MARGIN_MS);
    expect(late).toEqual([]);
    const inFlightWrites = answers.filter(
      (a) => a.kind === 'transfer' && a.startedAt < pausedAt && a.startedAt + a.ms > pausedAt && a.status >= 500,
    );
    expect(inFlightWrites.length).toBeGreaterThan(0); // the hang did catch writes mid-request
    // While open: 503 DATABASE_CIRCUIT_OPEN, and no connection attempt per request: the health check's and the
    // breaker's probes only (one request at a time, after 1, 2, 4 … s, each ending at its deadline in the hang).
    const whileOpen = answers.filter(
      (a) => a.startedAt >= pausedAt + 3 * REQUEST_DEADLINE_MS && a.startedAt + a.ms < resumedAt,
    );
    expect(whileOpen.length).toBeGreaterThan(100);
    const probesAtMost = Math.ceil(Math.log2(HANG_MS / 1000 + 1));
    const probes = whileOpen.filter((a) => a.code !== 'DATABASE_CIRCUIT_OPEN');
    expect(probes.length).toBeLessThanOrEqual(probesAtMost);
    expect(new Set(whileOpen.map((a) => a.status))).toEqual(new Set([503]));
    expect(openWindow.attempts).toBeLessThanOrEqual(Math.ceil(openWindow.ms / HEALTH_INTERVAL_MS) + 1 + probesAtMost);
    // Retry-After: the health check closes the breaker (within interval + timeout), not the 60 s recovery timeout.
    const retryAfter = Number(whileOpen[whileOpen.length - 1].retryAfter);
    expect(retryAfter).toBe(Math.ceil((HEALTH_INTERVAL_MS + HEALTH_TIMEOUT_MS) / 1000));
    const firstSuccess = answers
      .filter((a) => a.startedAt >= resumedAt && a.status < 300)
      .reduce((first, a) => Math.min(first, a.startedAt + a.ms), Infinity);
    const recoveryMs = firstSuccess - resumedAt;
    process.stdout.write(
      `[hang] Retry-After ${retryAfter} s; first success ${Math.round(recoveryMs)} ms after SIGCONT; ` +
        `${probes.length} probe request(s) while open: ${probes.map((p) => p.code).join(', ')}\n`,
    );
    expect(recoveryMs).toBeLessThanOrEqual(retryAfter * 1000 + MARGIN_MS);

    await expectLedgerMatches(accounts, answers);
    // Rejections are counted on the breaker, not recorded; the module's own KILLs are never the user's errors.
    const recorded = api.app.get(ErrorStatisticsService).recentErrors(500);
    expect(recorded.filter((e) => e.category === 'circuit_open')).toEqual([]);
    expect(recorded.filter((e) => e.errno === 1094)).toEqual([]);
    const rejected = metricValue(await metrics(), RESILIENCE_METRICS.breakerRejections, 'database="default"');
    expect(rejected).toBeGreaterThanOrEqual(whileOpen.length);
  }, 120_000);
});
