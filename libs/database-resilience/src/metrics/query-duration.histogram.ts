import { register, type Metric, type MetricValueWithName } from 'prom-client';
import { DURATION_BUCKETS as BOUNDS, METRIC } from './metric-providers';

/** What prom-client's registry reads of a metric at scrape. */
interface CollectedMetric {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: MetricValueWithName<string>[];
}

/** One database and statement kind: per-bucket counts (the last one: above every bound), sum and count. */
export class QueryDurationSeries {
  readonly counts = new Float64Array(BOUNDS.length + 1);
  sum = 0;
  count = 0;

  constructor(readonly labels: { readonly database: string; readonly kind: string }) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < BOUNDS.length && seconds > BOUNDS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * `db_resilience_query_duration_seconds`, written the way prom-client writes a histogram, but recorded with a
 * bucket search and three additions per statement. prom-client's own Histogram validates and hashes the labels
 * on every observe(), even through labels(): measured at 1 to 2.6 µs a statement on the benchmark machine,
 * about 1 % of a one-statement request (docs/BENCHMARKS.md). One per process, like prom-client's registry.
 */
export class QueryDurationHistogram {
  readonly name = METRIC.queryDuration;
  readonly help =
    'Duration of statements on guarded DataSources, by kind (read, write, begin, commit, rollback, session)';
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  /** By database, then kind: looked up on every statement without building a key. */
  private readonly series = new Map<string, Map<string, QueryDurationSeries>>();

  /** The process's histogram, registered in prom-client's default registry on first use. */
  static shared(): QueryDurationHistogram {
    // Not instanceof: a second copy of this library in node_modules has a class of its own.
    const existing = register.getSingleMetric(METRIC.queryDuration) as unknown as QueryDurationHistogram | undefined;
    if (typeof existing?.of === 'function') return existing;
    if (existing) {
      throw new Error(`${METRIC.queryDuration} is already registered in prom-client's registry by something else`);
    }
    const created = new QueryDurationHistogram();
    register.registerMetric(created as unknown as Metric);
    return created;
  }

  /** The series a database's statements of one kind are recorded in. */
  of(database: string, kind: string): QueryDurationSeries {
    let byKind = this.series.get(database);
    if (!byKind) this.series.set(database, (byKind = new Map()));
    let series = byKind.get(kind);
    if (!series) byKind.set(kind, (series = new QueryDurationSeries({ database, kind })));
    return series;
  }

  private *all(): Iterable<QueryDurationSeries> {
    for (const byKind of this.series.values()) yield* byKind.values();
  }

  get(): Promise<CollectedMetric> {
    const values: MetricValueWithName<string>[] = [];
    for (const { labels, counts, sum, count } of this.all()) {
      let cumulative = 0;
      BOUNDS.forEach((le, i) => {
        cumulative += counts[i];
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels, value: sum });
      values.push({ metricName: `${this.name}_count`, labels, value: count });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    for (const series of this.all()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}
