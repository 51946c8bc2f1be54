import { CircuitBreakerRegistry, CircuitOpenError, ResilienceService } from 'nestjs-database-resilience';
import { FaultProxy } from '../support/fault-proxy';
import { resilientContext } from '../support/resilient-context';
import type { ServerTarget } from '../support/server-target';
import { CheckList, type CheckResult, type Scenario } from './scenario-report';

const THRESHOLD = 5;
const RECOVERY_MS = 500;

/** Against an unreachable target the breaker opens, rejects at once, probes, and closes when the target answers. */
export class CircuitBreakerScenario implements Scenario {
  readonly name = 'circuit-breaker';
  readonly description = `a proxy refuses connections: the breaker opens at ${THRESHOLD} failures, rejects at once, probes every ${RECOVERY_MS} ms, closes when the server answers`;

  constructor(private readonly target: ServerTarget) {}

  async run(onProgress: (check: CheckResult) => void) {
    const list = new CheckList(onProgress);
    const check = list.add.bind(list);
    const figures: Record<string, number> = {};
    const proxy = await new FaultProxy(this.target.env.host, this.target.env.port, this.target.engine).start();
    const context = await resilientContext(
      { ...this.target.env, host: '127.0.0.1', port: proxy.port },
      this.target.database,
      {
        circuitBreaker: { failureThreshold: THRESHOLD, recoveryTimeoutMs: RECOVERY_MS },
      },
    ).catch((error: unknown) => {
      void proxy.stop();
      throw error;
    });
    try {
      proxy.refuse(true); // the server is unreachable from now on
      proxy.closeOpenConnections();
      const resilience = context.app.get(ResilienceService);
      const breaker = context.app.get(CircuitBreakerRegistry).get('default');
      const call = () => resilience.execute(() => context.dataSource.query('SELECT 1'));
      let failures = 0;
      while (breaker.state === 'closed' && failures < 50) {
        await call().catch(() => undefined);
        failures++;
      }
      figures.failuresBeforeOpen = failures;
      // A pooled connection the server dropped may meet the first call: a lost session of a connection opened
      // before is not counted (it evicts the pool's old connections); the refused connections after it are.
      check(
        'opens at its threshold',
        breaker.state === 'open' && failures >= THRESHOLD && failures <= THRESHOLD + 1,
        `open after ${failures} failed calls`,
      );

      const connectionsBefore = proxy.accepted;
      const started = process.hrtime.bigint();
      const rejected = await Promise.all(Array.from({ length: 1000 }, () => call().catch((e: unknown) => e)));
      figures.rejectionMicros = Math.round((Number(process.hrtime.bigint() - started) / 1000 / 1000) * 100) / 100;
      const allRejected = rejected.every((e) => e instanceof CircuitOpenError);
      check(
        'rejects at once, no I/O',
        allRejected && proxy.accepted === connectionsBefore,
        `1000 calls rejected in ${figures.rejectionMicros} µs each on average, ${proxy.accepted - connectionsBefore} new connections`,
      );

      proxy.refuse(false);
      const recoveryStarted = Date.now();
      let recovered = false;
      while (!recovered && Date.now() - recoveryStarted < 10_000) {
        recovered = await call().then(
          () => true,
          () => false,
        );
        if (!recovered) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      figures.recoveryMs = Date.now() - recoveryStarted;
      check(
        'probes and closes',
        recovered && breaker.state === 'closed',
        `closed ${figures.recoveryMs} ms after the server came back`,
      );
    } finally {
      await proxy.stop();
      await context.close();
    }
    return { checks: list.all, figures };
  }
}
