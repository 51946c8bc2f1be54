import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import OpossumBreaker from 'opossum';
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleAll, retry, wrap } from 'cockatiel';
import {
  CircuitBreakerRegistry,
  DatabaseResilienceModule,
  ResilienceService,
  Retryable,
} from 'nestjs-database-resilience';
import { measure, type BenchTable } from './bench-table';

/** Passes of half a second per case: on a shared machine one pass in five is usually quiet. */
const PASSES = 5;
const PASS_MS = 500;

@Injectable()
class Work {
  @Retryable()
  async guarded(): Promise<number> {
    return 1;
  }
}

@Module({ imports: [DatabaseResilienceModule.forRoot({ databases: ['default', 'down'] })], providers: [Work] })
class BreakerModule {}

/** An open breaker's rejection, and a closed breaker with retry on the success path, beside cockatiel 3.2.1 and opossum 9.0.0. */
export async function breakerBenches(): Promise<BenchTable[]> {
  const app = await NestFactory.createApplicationContext(BreakerModule, { logger: false });
  const resilience = app.get(ResilienceService);
  const work = app.get(Work);
  const bare = async () => 1;
  const context = new AsyncLocalStorage<number>();
  app.get(CircuitBreakerRegistry).forceOpen('down');
  const cockatielOpen = circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(1) });
  await cockatielOpen.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
  const cockatielBoth = wrap(
    retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
    circuitBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new ConsecutiveBreaker(5) }),
  );
  // opossum 9.0.0: one breaker opened by hand, one closed (opossum has no retry of its own).
  const opossumOpen = new OpossumBreaker(bare, { resetTimeout: 60_000 });
  opossumOpen.open();
  const opossumClosed = new OpossumBreaker(bare, { resetTimeout: 60_000 });
  await work.guarded(); // AsyncLocalStorage in use before anything is measured (see the @Retryable table)
  try {
    const rejection = await measure(
      'Rejection by an open breaker (target: at most 1 µs median)',
      [
        ['bare async call (baseline)', bare],
        ['cockatiel 3.2.1 open breaker', () => cockatielOpen.execute(bare).catch(() => undefined)],
        ['opossum 9.0.0 open breaker', () => opossumOpen.fire().catch(() => undefined)],
        [
          'open breaker: execute() rejects with CircuitOpenError',
          () => resilience.execute(bare, { database: 'down' }).catch(() => undefined),
        ],
      ],
      { batch: 200, passes: PASSES, time: PASS_MS },
    );
    const closed = await measure(
      "Closed breaker + retry on the success path (target: at most 0.3× cockatiel's wrap(retry, breaker) over the baseline)",
      [
        ['bare async call (baseline)', bare],
        ['cockatiel 3.2.1 wrap(retry, circuitBreaker)', () => cockatielBoth.execute(bare)],
        ['opossum 9.0.0 closed breaker (no retry)', () => opossumClosed.fire()],
        ['@Retryable() (breaker check + retry)', () => work.guarded()],
        // Last: on Node 20 and 22 a second AsyncLocalStorage in use would make the rows above dearer.
        ['AsyncLocalStorage.run() around the same call, alone', () => context.run(1, bare)],
      ],
      {
        batch: 200,
        passes: PASSES,
        time: PASS_MS,
        // On Node 20 and 22 the rows of the next pass would pay for this context, still in use, on every promise.
        afterPass: () => context.disable(),
        notes: [
          'Each unit of work runs in a context of its own (so that a nested unit runs once and concurrent units ' +
            'each keep their own retries): the last row is that context alone. On Node 24 it alone costs more than ' +
            "0.3× of cockatiel's added cost, so 0.3× is out of reach there while each unit has its own.",
        ],
      },
    );
    return [rejection, closed];
  } finally {
    opossumOpen.shutdown();
    opossumClosed.shutdown();
    await app.close();
  }
}
