import { HaproxyEndpoint } from '../../apps/cli/src/support/haproxy-endpoint';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { WRITER_PAIRS, writeUntil, type WriterPair } from '../../apps/cli/src/support/writer-pair';
import { resilientApp, type ResilientApp } from '../support/resilient-app';

const CALLERS = 20;
/** HAProxy's time to take a server out (`inter 250 fall 2`). */
const CHECK_MS = 500;
/** HAProxy's turn-around before it retries a refused connection on another server (`option redispatch`). */
const REDISPATCH_MS = 1_000;
/**
 * How long after HAProxy's check took the writer out a write may still fail (in-flight ones aside), for a breaker
 * whose first probe comes `firstProbeMs` after it opens: the breaker opens as the writer stops, before the check
 * takes it out; a probe that still meets the stopped writer fails (after HAProxy's turn-around, at worst) and
 * doubles the wait; the next one meets the server HAProxy moved to.
 */
const settledAfter = (firstProbeMs: number) => firstProbeMs + REDISPATCH_MS + 2 * firstProbeMs;
const BREAKER_SETTINGS = [
  ["the breaker's first probe at HAProxy's check time", { firstProbeAfterMs: CHECK_MS }, settledAfter(CHECK_MS)],
  ["the breaker at the module's defaults (first probe 1 s)", {}, settledAfter(1_000)],
] as const;
/** Each write's deadline, and what a loaded 2-core machine may add to an answer past it. */
const DEADLINE_MS = 10_000;
const DEADLINE_MARGIN_MS = 500;
/** How long the writers go on after each of HAProxy's switches. */
const AFTER_SWITCH_MS = 5_000;

/**
 * HAProxy as the writer endpoint, switching by its own health checks (no orchestrator telling it): the writer a
 * server, the other a backup. The writer stops under 20 writing callers (PostgreSQL: its standby promoted, as an
 * orchestrator does), HAProxy's check takes it out and new connections go to the backup; then the writer is back and
 * HAProxy adds it back. The module's breaker is per endpoint: it may open while HAProxy still sends connections to
 * the stopped server, but its ramped probes (`firstProbeAfterMs`) must not hold the app off once HAProxy has moved
 * the traffic (its recovery timeout stays at the default 60 s). With `firstProbeAfterMs: null` it does (tried).
 */
describe.each(WRITER_PAIRS)("%s behind HAProxy's own health checks", (_engine, makePair) => {
  describe.each(BREAKER_SETTINGS)('%s', (_setting, circuitBreaker, settledMs) => {
    let pair: WriterPair;
    let endpoint: HaproxyEndpoint;
    let app: ResilientApp;

    beforeAll(async () => {
      pair = await makePair();
      endpoint = await HaproxyEndpoint.checked(pair.oldPort, pair.newPort);
      app = await resilientApp({
        ...pair.app,
        port: endpoint.port,
        options: {
          circuitBreaker,
          retry: { maxAttempts: 5 },
          healthCheck: { enabled: false },
          alerts: { log: false },
        },
      });
    }, 120_000);

    afterAll(async () => {
      await app?.close().catch(() => undefined);
      await endpoint?.stop();
      await pair?.destroy();
    });

    /** Half the callers write through `execute`, half in a transaction. */
    const write = (id: number) =>
      id % 2 === 0
        ? app.resilience.execute(() => app.dataSource.query(pair.insert, [id, 'execute']), {
            retry: true,
            deadlineMs: DEADLINE_MS,
          })
        : app.resilience.transaction((manager) => manager.query(pair.insert, [id, 'transaction']), {
            deadlineMs: DEADLINE_MS,
          });
    const state = async (server: 'old' | 'new') => (await endpoint.serverStates())[server];

    it('the writer taken out under 20 writing callers, then added back: no answer past its deadline, no write failed long after each switch, none lost or doubled, the breaker closed soon after the switch', async () => {
      let stoppedAt = Infinity;
      let backAt = Infinity;
      const load = writeUntil(write, 1, () => Date.now() > backAt + AFTER_SWITCH_MS, CALLERS);
      await waitUntil(async () => (await pair.ids()).length >= 200, 'writes on the writer', 20_000);

      stoppedAt = Date.now();
      await pair.stopOld();
      await pair.promoteNew(); // PostgreSQL: the standby takes over; MariaDB: writable already
      await waitUntil(async () => (await state('old')) === 'DOWN', "HAProxy's check to take the writer out");
      const outAt = Date.now();
      await waitUntil(async () => Date.now() > outAt + AFTER_SWITCH_MS, 'writes through the backup');

      await pair.startOld();
      await waitUntil(async () => (await state('old')) === 'UP', "HAProxy's check to add the writer back", 20_000);
      backAt = Date.now();
      await waitUntil(async () => (await pair.portThrough(endpoint.port)) === pair.oldPort, 'new connections to it');
      const ledger = await load;

      const answers = [...ledger.written, ...ledger.failed];
      expect(answers.filter(({ ms }) => ms > DEADLINE_MS + DEADLINE_MARGIN_MS)).toEqual([]);
      // Only writes in flight on the writer when it stopped may be of unknown outcome (the caller is told so).
      const unknown = ledger.failed.filter((failure) => failure.unknown);
      expect(unknown.filter(({ at, ms }) => at - ms > stoppedAt + settledMs)).toEqual([]);
      expect(unknown.length).toBeLessThanOrEqual(CALLERS);
      const late = ledger.failed.filter(({ at, unknown: outcomeUnknown }) => !outcomeUnknown && at > outAt + settledMs);
      expect(late).toEqual([]);
      expect(ledger.written.filter(({ at }) => at > outAt && at < backAt).length).toBeGreaterThan(CALLERS);
      expect(ledger.written.filter(({ at }) => at > backAt).length).toBeGreaterThan(CALLERS);

      const counts = new Map<number, number>();
      for (const id of await pair.ids()) counts.set(id, (counts.get(id) ?? 0) + 1);
      expect(ledger.written.filter(({ id }) => counts.get(id) !== 1)).toEqual([]); // lost or doubled
      const known = ledger.failed.filter((failure) => !failure.unknown);
      expect(known.filter(({ id }) => counts.has(id))).toEqual([]); // reported failed, yet written
      // Open, if at all, only until its first probes find the server HAProxy moved to.
      const transitions = app.events.filter((e) => e.type === 'breaker-state');
      expect(transitions.filter((e) => e.at > outAt + settledMs && e.state === 'open')).toEqual([]);
      expect(transitions.at(-1)?.state ?? 'closed').toBe('closed');
    }, 120_000);
  });
});
