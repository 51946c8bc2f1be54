import * as promClient from 'prom-client';
import { Histogram, Registry, type Metric } from 'prom-client';
import { DURATION_BUCKETS, METRIC } from './metric-providers';
import { QueryDurationHistogram } from './query-duration.histogram';

describe('QueryDurationHistogram', () => {
  const observations: Array<[string, string, number]> = [
    ['default', 'read', 0.0004],
    ['default', 'read', 0.001], // on a bound: counted in that bucket (le is "less or equal")
    ['default', 'read', 0.2],
    ['default', 'write', 45], // above every bound: +Inf only
    ['reports', 'commit', 0.003],
  ];

  it("scrapes exactly as prom-client's own Histogram with the same observations", async () => {
    const ours = new QueryDurationHistogram();
    const oursRegistry = new Registry();
    oursRegistry.registerMetric(ours as unknown as Metric);
    const theirsRegistry = new Registry();
    const theirs = new Histogram({
      name: METRIC.queryDuration,
      help: ours.help,
      labelNames: ['database', 'kind'],
      buckets: DURATION_BUCKETS,
      registers: [theirsRegistry],
    });
    for (const [database, kind, seconds] of observations) {
      ours.of(database, kind).observe(seconds);
      theirs.observe({ database, kind }, seconds);
    }
    expect(await oursRegistry.metrics()).toBe(await theirsRegistry.metrics());
    expect(await oursRegistry.metrics()).toContain(
      'db_resilience_query_duration_seconds_bucket{le="0.001",database="default",kind="read"} 2',
    );
  });

  it('is one per process, in the default registry, and reset() zeroes it', async () => {
    const shared = QueryDurationHistogram.shared();
    expect(QueryDurationHistogram.shared()).toBe(shared);
    shared.of('default', 'read').observe(0.01);
    shared.reset();
    const { values } = await shared.get();
    expect(values.filter((value) => value.metricName?.endsWith('_count')).map((value) => value.value)).toEqual([0]);
  });

  it('is shared with a second copy of the library (a class of its own) instead of failing to register', () => {
    const shared = QueryDurationHistogram.shared();
    jest.isolateModules(() => {
      // prom-client itself stays the one already loaded: only the library is copied, as with two installs.
      jest.doMock('prom-client', () => promClient);
      const copy = jest.requireActual<typeof import('./query-duration.histogram')>('./query-duration.histogram');
      expect(copy.QueryDurationHistogram).not.toBe(QueryDurationHistogram);
      expect(copy.QueryDurationHistogram.shared()).toBe(shared);
    });
  });
});
