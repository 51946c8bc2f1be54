import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import { DatabaseResilienceModule, ResilienceService, Retryable } from 'nestjs-database-resilience';
import { measure, type BenchTable } from './bench-table';

@Injectable()
class Work {
  async plain(): Promise<number> {
    return 1;
  }

  @Retryable()
  async guarded(): Promise<number> {
    return 1;
  }
}

@Module({ imports: [DatabaseResilienceModule.forRoot()], providers: [Work] })
class BenchModule {}

/** The same with deadlock-aware admission off (it is on by default): without a deadlock it must cost nothing here. */
@Module({ imports: [DatabaseResilienceModule.forRoot({ deadlockAdmission: { enabled: false } })], providers: [Work] })
class NoAdmissionBenchModule {}

/** A hand-written retry loop, as teams write before they reach for a library. */
async function handWritten<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
    }
  }
}

/** The success path: what wrapping an async call that succeeds costs, beside cockatiel's retry on the same call. */
export async function retryableOverheadBench(): Promise<BenchTable> {
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const noAdmissionApp = await NestFactory.createApplicationContext(NoAdmissionBenchModule, { logger: false });
  const work = app.get(Work);
  const withoutAdmission = noAdmissionApp.get(Work);
  const resilience = app.get(ResilienceService);
  const bare = async () => 1;
  const cockatiel = retry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() });
  try {
    // Node 20 and 22 run AsyncLocalStorage on async_hooks: once any is in use (ours, or nestjs-cls, or an APM agent),
    // every promise in the process costs a little more. Measure that apart, then every case under it alike.
    const before = await measure('before', [['bare async call', () => work.plain()]], { batch: 200 });
    await work.guarded();
    const table = await measure(
      'Success-path overhead of @Retryable (target: no more than cockatiel 3.2.1)',
      [
        ['bare async call (baseline)', () => work.plain()],
        ['hand-written retry loop', () => handWritten(bare)],
        ['cockatiel 3.2.1 retry policy', () => cockatiel.execute(bare)],
        ['@Retryable() method', () => work.guarded()],
        ['@Retryable() method, deadlockAdmission off', () => withoutAdmission.guarded()],
        ['ResilienceService.execute(fn, { retry: true })', () => resilience.execute(bare, { retry: true })],
      ],
      { batch: 200 },
    );
    table.notes?.push(
      `All cases run after the module's first unit of work, when its AsyncLocalStorage is in use. Before that, the ` +
        `same bare async call took ${before.rows[0][1]} median: on Node 20 and 22 an AsyncLocalStorage in use adds to ` +
        "every promise of the process; Node 24's AsyncLocalStorage runs on AsyncContextFrame, which moves that cost " +
        'into each run(), and the module runs each unit of work in one. ' +
        "The module with forRoot()'s defaults, deadlock-aware admission on: it takes a limit only after a deadlock.",
    );
    return table;
  } finally {
    await app.close();
    await noAdmissionApp.close();
  }
}
