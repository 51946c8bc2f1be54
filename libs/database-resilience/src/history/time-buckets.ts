import { ErrorCategory } from '../classification/error-category.enum';
import { Severity } from '../classification/severity.enum';

/** Counts of one time span (a minute or an hour) for one database. */
export interface Counts {
  errors: number;
  byCategory: Record<string, number>;
  bySeverity: Record<string, number>;
  /** Units of work that failed at least once and then succeeded. */
  recovered: number;
  /** Units of work that failed at least once and gave up. */
  failed: number;
}

export function emptyCounts(): Counts {
  return {
    errors: 0,
    byCategory: Object.fromEntries(Object.values(ErrorCategory).map((c) => [c, 0])),
    bySeverity: Object.fromEntries(Object.values(Severity).map((s) => [s, 0])),
    recovered: 0,
    failed: 0,
  };
}

export function addCounts(into: Counts, from: Counts): void {
  into.errors += from.errors;
  into.recovered += from.recovered;
  into.failed += from.failed;
  for (const key in from.byCategory) into.byCategory[key] += from.byCategory[key];
  for (const key in from.bySeverity) into.bySeverity[key] += from.bySeverity[key];
}

interface Bucket {
  start: number;
  perDatabase: Map<string, Counts>;
}

/**
 * A fixed ring of time buckets (e.g. 60 of a minute, 24 of an hour). Writing touches one bucket; reading
 * costs the number of buckets, never the number of errors.
 */
export class TimeBuckets {
  private readonly buckets: Bucket[];

  constructor(
    readonly spanMs: number,
    readonly count: number,
  ) {
    this.buckets = Array.from({ length: count }, () => ({ start: -1, perDatabase: new Map() }));
  }

  /** The counts of `database` in the bucket that holds `at`, emptied first if it held an older span. */
  countsAt(at: number, database: string): Counts {
    const start = at - (at % this.spanMs);
    const bucket = this.buckets[Math.floor(start / this.spanMs) % this.count];
    if (bucket.start !== start) {
      bucket.start = start;
      bucket.perDatabase.clear();
    }
    let counts = bucket.perDatabase.get(database);
    if (!counts) {
      counts = emptyCounts();
      bucket.perDatabase.set(database, counts);
    }
    return counts;
  }

  /** The sums of the last `spans` spans up to `now`, per database. */
  sumByDatabase(now: number, spans: number): Map<string, Counts> {
    const sums = new Map<string, Counts>();
    const current = now - (now % this.spanMs);
    for (let i = 0; i < Math.min(spans, this.count); i++) {
      const start = current - i * this.spanMs;
      const bucket = this.buckets[Math.floor(start / this.spanMs) % this.count];
      if (bucket.start !== start) continue;
      for (const [name, counts] of bucket.perDatabase) {
        let sum = sums.get(name);
        if (!sum) sums.set(name, (sum = emptyCounts()));
        addCounts(sum, counts);
      }
    }
    return sums;
  }

  /** Errors per span, oldest first, the last `spans` spans up to `now` (empty spans included). */
  errorSeries(now: number, spans: number, database?: string): Array<{ start: number; errors: number }> {
    const current = now - (now % this.spanMs);
    const series: Array<{ start: number; errors: number }> = [];
    for (let i = Math.min(spans, this.count) - 1; i >= 0; i--) {
      const start = current - i * this.spanMs;
      const bucket = this.buckets[Math.floor(start / this.spanMs) % this.count];
      let errors = 0;
      if (bucket.start === start) {
        for (const [name, c] of bucket.perDatabase) if (database === undefined || name === database) errors += c.errors;
      }
      series.push({ start, errors });
    }
    return series;
  }
}
