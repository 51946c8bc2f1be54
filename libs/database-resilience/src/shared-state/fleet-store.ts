import { z } from 'zod';
import { redisClient } from './redis-client';
import { ResilienceLogger } from '../events/resilience-logger';
import type { Redis } from 'ioredis';

/** One failed attempt as the fleet keeps it: what the dashboard shows, redacted, with the instance it met. */
export interface FleetErrorRecord {
  at: string;
  instance: string;
  database: string;
  category: string;
  severity: string;
  code: string;
  route?: string;
  operation?: string;
  message: string;
}

/** Counts of one minute or hour: `instance`, `database`, `category`, `severity` → errors. */
export type FleetCounts = Array<{
  instance: string;
  database: string;
  category: string;
  severity: string;
  errors: number;
}>;

/** Statements seen slow, or losing a deadlock, counted per hour: `instance`, `database`, `fingerprint` → counts. */
export interface FleetHotSpot {
  kind: 'slow' | 'deadlock';
  instance: string;
  database: string;
  fingerprint: string;
  count: number;
  /** Slow statements: their summed duration, in whole milliseconds. */
  totalMs: number;
}

const NAME = /^[\w.:@-]{1,128}$/;
/** A fingerprint as a hash field part: bounded, no tab or newline (the field's separators). */
const FINGERPRINT = /^[^\t\n]{1,1000}$/;
/** Fields of one hot-spot hash read at most: a hash Redis filled with junk cannot make a read unbounded. */
const MAX_HOT_SPOT_FIELDS = 5000;
const CATEGORY = /^[a-z_]{1,40}$/;
const SEVERITY = /^[a-z]{1,10}$/;
/** What comes back from Redis is untrusted: a record has this shape and bounded sizes, or it is skipped. */
const recordSchema = z.strictObject({
  at: z.iso.datetime(),
  instance: z.string().regex(NAME),
  database: z.string().regex(NAME),
  category: z.string().regex(CATEGORY),
  severity: z.string().regex(SEVERITY),
  code: z.string().max(64),
  route: z.string().max(300).optional(),
  operation: z.string().max(300).optional(),
  message: z.string().max(2000),
});

export const FLEET_STREAM_LENGTH = 5000;
/** Records of one batch added to the stream, at most (the newest). */
const MAX_STREAMED = 100;
const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The fleet's errors in Redis, written in batches by every instance and read as one: the newest records in a
 * capped stream (`<prefix>:fleet:errors`, about 5 000 entries whatever the rate), counts in per-minute and
 * per-hour hashes that expire (2 h and 25 h). Memory stays bounded (a few MB) at 1 M errors a day. Every read
 * is checked entry by entry; a bad one is skipped with one warning. Any Redis failure is reported as `undefined`:
 * the caller shows its local view.
 */
export class RedisFleetStore {
  private readonly logger = new ResilienceLogger();
  private readonly client: Redis;
  private warnedBadEntry = false;
  /** Redis commands sent (for the benchmark). */
  commands = 0;

  constructor(
    url: string,
    private readonly keyPrefix: string,
    timeoutMs: number,
  ) {
    this.client = redisClient(url, timeoutMs);
    this.client.on('error', () => undefined); // reported by the calls that fail
  }

  /** Resolves once connected, or after `timeoutMs`. */
  async ready(timeoutMs: number): Promise<void> {
    if (this.client.status === 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.client.once('ready', () => resolve())),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** Appends a batch (errors, and hot spots counted in the current hour): one round trip. False if Redis did not take it. */
  async append(records: readonly FleetErrorRecord[], hotSpots: readonly FleetHotSpot[] = []): Promise<boolean> {
    if (records.length === 0 && hotSpots.length === 0) return true;
    const multi = this.client.multi();
    if (hotSpots.length > 0) {
      const now = Date.now();
      const key = `${this.keyPrefix}:fleet:hs:${now - (now % HOUR)}`;
      for (const spot of hotSpots) {
        const field = [spot.kind === 'slow' ? 's' : 'd', spot.instance, spot.database, spot.fingerprint].join('\t');
        multi.hincrby(key, `${field}\tn`, spot.count);
        if (spot.kind === 'slow') multi.hincrby(key, `${field}\tms`, Math.round(spot.totalMs));
      }
      multi.pexpire(key, 25 * HOUR);
      this.commands += hotSpots.length * 2 + 1;
    }
    const counts = new Map<string, number>();
    // The stream shows the newest errors: in a storm a batch adds its newest MAX_STREAMED (the counts stay exact).
    records.forEach((record, i) => {
      if (i >= records.length - MAX_STREAMED)
        multi.xadd(
          `${this.keyPrefix}:fleet:errors`,
          'MAXLEN',
          '~',
          String(FLEET_STREAM_LENGTH),
          '*',
          'r',
          JSON.stringify(record),
        );
      const at = Date.parse(record.at);
      const field = [record.instance, record.database, record.category, record.severity].join('\t');
      for (const key of [`m:${at - (at % MINUTE)}`, `h:${at - (at % HOUR)}`]) {
        const bucketField = `${key}\n${field}`;
        counts.set(bucketField, (counts.get(bucketField) ?? 0) + 1);
      }
    });
    const buckets = new Set<string>();
    for (const [bucketField, n] of counts) {
      const [bucket, field] = bucketField.split('\n');
      multi.hincrby(`${this.keyPrefix}:fleet:${bucket}`, field, n);
      buckets.add(bucket);
    }
    for (const bucket of buckets) {
      multi.pexpire(`${this.keyPrefix}:fleet:${bucket}`, bucket.startsWith('m:') ? 2 * HOUR : 25 * HOUR);
    }
    this.commands += Math.min(records.length, MAX_STREAMED) + counts.size + buckets.size + 2;
    try {
      await multi.exec();
      return true;
    } catch {
      return false;
    }
  }

  /** The newest records, newest first, or undefined when Redis does not answer. */
  async recent(limit: number): Promise<FleetErrorRecord[] | undefined> {
    let entries: Array<[string, string[]]>;
    try {
      entries = await this.client.xrevrange(`${this.keyPrefix}:fleet:errors`, '+', '-', 'COUNT', limit);
    } catch {
      return undefined;
    }
    return entries.flatMap(([, fields]) => {
      const parsed = this.parse(fields[1]);
      return parsed ? [parsed] : [];
    });
  }

  /** Counts per minute (windows up to an hour) or per hour, for the `buckets` starting at `starts`. */
  async counts(starts: readonly number[], unit: 'minute' | 'hour'): Promise<FleetCounts | undefined> {
    const hashes = await this.hashes(starts.map((start) => `fleet:${unit === 'minute' ? 'm' : 'h'}:${start}`));
    if (hashes === undefined) return undefined;
    const counts: FleetCounts = [];
    for (const hash of hashes) {
      for (const [field, value] of Object.entries(hash)) {
        const parts = field.split('\t');
        const [instance, database, category, severity] = parts;
        const errors = Number(value);
        const valid =
          parts.length === 4 &&
          NAME.test(instance ?? '') &&
          NAME.test(database ?? '') &&
          CATEGORY.test(category ?? '') &&
          SEVERITY.test(severity ?? '') &&
          Number.isSafeInteger(errors) &&
          errors >= 0;
        if (valid) counts.push({ instance, database, category, severity, errors });
        else this.badEntry();
      }
    }
    return counts;
  }

  /** The hot spots of the hours starting at `starts`, summed per instance, database and fingerprint. */
  async hotSpots(starts: readonly number[]): Promise<FleetHotSpot[] | undefined> {
    const hashes = await this.hashes(starts.map((start) => `fleet:hs:${start}`));
    if (hashes === undefined) return undefined;
    const spots = new Map<string, FleetHotSpot>();
    for (const hash of hashes) {
      const fields = Object.entries(hash);
      if (fields.length > MAX_HOT_SPOT_FIELDS) this.badEntry();
      for (const [field, value] of fields.slice(0, MAX_HOT_SPOT_FIELDS)) {
        const parts = field.split('\t');
        const [kind, instance, database, fingerprint, measure] = parts;
        const n = Number(value);
        const valid =
          parts.length === 5 &&
          (kind === 's' || kind === 'd') &&
          NAME.test(instance ?? '') &&
          NAME.test(database ?? '') &&
          FINGERPRINT.test(fingerprint ?? '') &&
          (measure === 'n' || (measure === 'ms' && kind === 's')) &&
          Number.isSafeInteger(n) &&
          n >= 0;
        if (!valid) {
          this.badEntry();
          continue;
        }
        const key = parts.slice(0, 4).join('\t');
        const spot = spots.get(key) ?? {
          kind: kind === 's' ? 'slow' : 'deadlock',
          instance,
          database,
          fingerprint,
          count: 0,
          totalMs: 0,
        };
        if (measure === 'n') spot.count += n;
        else spot.totalMs += n;
        spots.set(key, spot);
      }
    }
    return [...spots.values()].filter((spot) => spot.count > 0);
  }

  /** The hashes at `keys` (under the prefix) in one round trip, or undefined when Redis does not answer. */
  private async hashes(keys: readonly string[]): Promise<Array<Record<string, string>> | undefined> {
    const pipeline = this.client.pipeline();
    for (const key of keys) pipeline.hgetall(`${this.keyPrefix}:${key}`);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch {
      return undefined;
    }
    if (!results || results.some(([error]) => error)) return undefined;
    return results.map(([, hash]) => (hash ?? {}) as Record<string, string>);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }

  private parse(raw: string | undefined): FleetErrorRecord | undefined {
    try {
      const result = recordSchema.safeParse(JSON.parse(raw ?? ''));
      if (result.success) return result.data;
    } catch {
      // not JSON
    }
    this.badEntry();
    return undefined;
  }

  private badEntry(): void {
    if (this.warnedBadEntry) return;
    this.warnedBadEntry = true;
    this.logger.warn(
      `Ignored entries of the fleet view in Redis (${this.keyPrefix}:fleet:*) that are not the module's`,
      {
        event: 'fleet-entry-ignored',
      },
    );
  }
}
