import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import {
  DatabaseResilienceModule,
  ErrorClassifier,
  ResilienceEvents,
  type DatabaseResilienceOptions,
} from 'nestjs-database-resilience';
import type { FleetView as FleetViewType } from '../libs/database-resilience/src/history/fleet-view.service';
import { RedisFleetStore, type FleetErrorRecord } from '../libs/database-resilience/src/shared-state/fleet-store';
import { measure, printTable, type BenchTable } from './bench-table';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const STORM_PER_SECOND = 1000;
const STORM_SECONDS = 5;

async function context(options: DatabaseResilienceOptions) {
  @Module({
    imports: [
      DatabaseResilienceModule.forRoot({
        alerts: { log: false },
        deadlocks: { serverReport: false },
        healthCheck: { enabled: false },
        ...options,
      }),
    ],
  })
  class FleetBenchModule {}
  return NestFactory.createApplicationContext(FleetBenchModule, { logger: false });
}

/** The FleetView class of the copy of the library the apps run (an internal: not exported by name). */
function fleetViewClass(): new (...args: never[]) => FleetViewType {
  const entry = require.resolve('nestjs-database-resilience');
  return (require(entry.replace(/index\.js$/, 'history/fleet-view.service.js')) as { FleetView: never }).FleetView;
}

/** `INFO` field of the bench's Redis. */
async function info(redis: Redis, field: string): Promise<number> {
  const text = await redis.info();
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

/**
 * The fleet view's cost: recording on the request path with the fleet store on, against the local store, in the
 * same run; the Redis commands an instance sends in a storm of 1 000 errors a second (batched); what a day of
 * 1 000 000 errors leaves in Redis.
 */
export async function fleetRecordingBench(): Promise<BenchTable> {
  const prefix = `dr-bench-fleet-${process.pid}`;
  const redis = new Redis(REDIS_URL);
  const local = await context({});
  const fleet = await context({
    instanceId: 'bench-1',
    sharedState: { store: { type: 'redis', url: REDIS_URL, keyPrefix: prefix } },
  });
  try {
    const error = local
      .get(ErrorClassifier)
      .classify({ errno: 1213, code: 'ER_LOCK_DEADLOCK', message: 'Deadlock found' });
    let unitId = 0;
    const recorder = (events: ResilienceEvents) => () =>
      events.emit({
        type: 'attempt-failed',
        at: Date.now(),
        unitId: ++unitId,
        database: 'default',
        operation: 'transfer',
        requestId: undefined,
        attempt: 1,
        error,
        willRetry: false,
      });
    const recordLocal = recorder(local.get(ResilienceEvents));
    const recordFleet = recorder(fleet.get(ResilienceEvents));
    const table = await measure(
      'Fleet view: recording an error on the request path, local store against the fleet store (Redis)',
      [
        ['record one failed attempt, local view only (baseline)', recordLocal],
        ['record one failed attempt, fleet view on (batched to Redis every 250 ms)', recordFleet],
      ],
      { batch: 100 },
    );

    // A storm: 1 000 errors a second for 5 s on one instance; Redis's own count of the commands it processed.
    const view = fleet.get(fleetViewClass());
    await view.flush();
    const commandsBefore = await info(redis, 'total_commands_processed');
    const ours = view.commands;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let i = 0; i < STORM_PER_SECOND / 100; i++) recordFleet();
        if (Date.now() - started >= STORM_SECONDS * 1000) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    await view.flush();
    const seconds = (Date.now() - started) / 1000;
    const processed = (await info(redis, 'total_commands_processed')) - commandsBefore - 1; // less the INFO itself
    const sent = view.commands - ours;

    // A day of 1 000 000 errors (3 instances, 2 databases, 4 kinds), written in batches of 1 000.
    const store = new RedisFleetStore(REDIS_URL, `${prefix}-day`, 2000);
    await store.ready(5000);
    const memoryBefore = await info(redis, 'used_memory');
    const dayStart = Date.now() - 86_400_000;
    const kinds = [
      ['deadlock', 'high', 'ER_LOCK_DEADLOCK'],
      ['lock_timeout', 'high', 'ER_LOCK_WAIT_TIMEOUT'],
      ['connection', 'critical', 'ECONNREFUSED'],
      ['integrity', 'medium', 'ER_DUP_ENTRY'],
    ];
    for (let batch = 0; batch < 1000; batch++) {
      const records: FleetErrorRecord[] = [];
      for (let i = 0; i < 1000; i++) {
        const n = batch * 1000 + i;
        const [category, severity, code] = kinds[n % 4];
        records.push({
          at: new Date(dayStart + Math.floor((n * 86_400_000) / 1_000_000)).toISOString(),
          instance: `api-${n % 3}`,
          database: n % 2 ? 'default' : 'reports',
          category,
          severity,
          code,
          route: 'POST /transfers',
          message: 'Deadlock found when trying to get lock; try restarting transaction',
        });
      }
      if (!(await store.append(records))) throw new Error('Redis did not take a batch');
    }
    const memoryMb = ((await info(redis, 'used_memory')) - memoryBefore) / 2 ** 20;
    await store.close();

    table.notes?.push(
      `Storm: ${STORM_PER_SECOND} errors a second for ${STORM_SECONDS} s on one instance: Redis processed ` +
        `${Math.round(processed / seconds)} commands a second for it (${Math.round(sent / seconds)} counted by the instance), ` +
        `in ${Math.round((seconds * 1000) / 250)} round trips of one MULTI each (every 250 ms; the stream takes the newest ` +
        '100 of each batch, the counts take all).',
      `A day of 1 000 000 errors (3 instances, 2 databases, 4 kinds, written as they would be over 24 h, 1 000 a batch): Redis used ` +
        `${memoryMb.toFixed(1)} MB more (the stream capped at 5 000 entries, counts per minute and per hour; in a live ` +
        'fleet the minute hashes expire after 2 h, so fewer are kept than here).',
    );
    return table;
  } finally {
    await fleet.close();
    await local.close();
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
    redis.disconnect();
  }
}

if (require.main === module) void fleetRecordingBench().then(printTable);
