import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  DatabaseResilienceModule,
  ErrorClassifier,
  ErrorStatisticsService,
  ResilienceEvents,
  type ClassifiedError,
} from 'nestjs-database-resilience';
import { formatNs, measure, type BenchTable } from './bench-table';

@Module({
  imports: [DatabaseResilienceModule.forRoot({ alerts: { log: false }, deadlocks: { serverReport: false } })],
})
class RecordingModule {}

/**
 * What recording an error costs the request path (history, statistics, deadlock analytics and alert rules all
 * listening), what a million recorded errors leave on the heap, and what reading the statistics then costs.
 */
export async function recordingBench(): Promise<BenchTable> {
  const app = await NestFactory.createApplicationContext(RecordingModule, { logger: false });
  const events = app.get(ResilienceEvents);
  const statistics = app.get(ErrorStatisticsService);
  const classifier = app.get(ErrorClassifier);
  const errors: ClassifiedError[] = [
    classifier.classify({
      errno: 1213,
      code: 'ER_LOCK_DEADLOCK',
      message: 'Deadlock found',
      sql: 'UPDATE account SET balance = 1 WHERE id = 2',
    }),
    classifier.classify({ errno: 1205, code: 'ER_LOCK_WAIT_TIMEOUT', message: 'Lock wait timeout exceeded' }),
    classifier.classify({ errno: 1062, code: 'ER_DUP_ENTRY', message: "Duplicate entry 'x' for key 'PRIMARY'" }),
  ];
  const databases = ['default', 'reporting', 'orders'];
  let unitId = 0;
  const record = (i: number) =>
    events.emit({
      type: 'attempt-failed',
      at: Date.now(),
      unitId: ++unitId,
      database: databases[i % 3],
      operation: 'transfer',
      requestId: undefined,
      attempt: 1,
      error: errors[i % 3],
      willRetry: false,
    });
  const bare = (i: number) => i;
  let n = 0;
  try {
    const table = await measure(
      'Recording an error (target: under 2 µs median per call)',
      [
        ['bare function call (baseline)', () => bare(n++)],
        ['record one failed attempt (history, statistics, deadlocks, alerts)', () => record(n++)],
        [
          'classify a raw error, then record it',
          () => {
            const error = classifier.classify({ errno: 1213, code: 'ER_LOCK_DEADLOCK', message: 'Deadlock found' });
            events.emit({
              type: 'attempt-failed',
              at: Date.now(),
              unitId: ++unitId,
              database: 'default',
              operation: 'op',
              requestId: undefined,
              attempt: 1,
              error,
              willRetry: false,
            });
          },
        ],
      ],
      { batch: 1000 },
    );

    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1_000_000; i++) record(i);
    gc?.();
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const reads: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = process.hrtime.bigint();
      statistics.statistics({ windowMinutes: 1440 });
      reads.push(Number(process.hrtime.bigint() - started));
    }
    reads.sort((a, b) => a - b);
    table.notes?.push(
      `After 1 000 000 more recorded errors: heap ${heapGrowthMb >= 0 ? '+' : ''}${heapGrowthMb.toFixed(2)} MB after GC ` +
        `(target under 10 MB${gc ? '' : '; run with --expose-gc for a GC before each reading'}); reading the 24-hour statistics then: ` +
        `${formatNs(reads[100])} median, ${formatNs(reads[198])} p99 over 200 reads (target under 1 ms).`,
    );
    return table;
  } finally {
    await app.close();
  }
}
