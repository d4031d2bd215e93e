import assert from 'node:assert/strict';
import { register as promClientGlobal } from 'prom-client';
import { collectProcessMetrics, counter, gauge, histogram, histogramCount, histogramTotals, metricTotal, metricValue, metrics, sharedMetrics } from '../../core/metrics.js';

describe('core/metrics (prom-client)', () => {
  const made: string[] = [];
  const named = (n: string) => (made.push(n), n);
  after(() => made.forEach((n) => metrics.removeSingleMetric(n)));

  it('renders counters, gauges and histograms of its own registry in the Prometheus text format, with escaped labels', async () => {
    const c = counter(named('test_metrics_x_total'), 'a counter', ['op']);
    c.inc({ op: 'a"b' }, 2);
    c.inc({ op: 'a"b' });
    gauge(named('test_metrics_g'), 'a gauge', ['s']).set({ s: '1' }, 5);
    const h = histogram(named('test_metrics_h_ms'), 'a histogram', [], [1, 10]);
    h.observe({}, 0.5);
    h.observe({}, 5);
    h.observe({}, 50);
    const text = (await Promise.all(made.map((n) => metrics.getSingleMetricAsString(n)))).join('\n');
    assert.equal(
      text,
      [
        '# HELP test_metrics_x_total a counter',
        '# TYPE test_metrics_x_total counter',
        'test_metrics_x_total{op="a\\"b"} 3',
        '# HELP test_metrics_g a gauge',
        '# TYPE test_metrics_g gauge',
        'test_metrics_g{s="1"} 5',
        '# HELP test_metrics_h_ms a histogram',
        '# TYPE test_metrics_h_ms histogram',
        'test_metrics_h_ms_bucket{le="1"} 1',
        'test_metrics_h_ms_bucket{le="10"} 2',
        'test_metrics_h_ms_bucket{le="+Inf"} 3',
        'test_metrics_h_ms_sum 55.5',
        'test_metrics_h_ms_count 3',
      ].join('\n'),
    );
    assert.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await promClientGlobal.getSingleMetricAsString('test_metrics_x_total').catch(() => 'absent'), 'absent', "not prom-client's global registry");
    assert.throws(() => counter('test_metrics_x_total', 'again', ['op']), /already been registered/, 'one metric per name');
  });

  it('a label a metric did not declare is refused', () => {
    const c = counter(named('test_metrics_declared_total'), 'declared labels', ['operator']);
    assert.throws(() => c.inc({ operator: 'a', policy: 'b' } as never), /Added label "policy" is not included/);
  });

  it('reads: a series by its exact label set, totals over label sets, histogram counts and sums; removed series read 0', async () => {
    const c = counter(named('test_metrics_read_total'), 'reads', ['operator', 'policy']);
    c.inc({ operator: 'vad', policy: 'drop-oldest' }, 3);
    c.inc({ policy: 'pause', operator: 'vad' });
    c.inc({ operator: 'vad' }, 10);
    assert.equal(await metricValue(c, { operator: 'vad', policy: 'drop-oldest' }), 3);
    assert.equal(await metricValue(c, { policy: 'pause', operator: 'vad' }), 1);
    assert.equal(await metricValue(c, { operator: 'vad' }), 10, 'a subset of the labels is its own series');
    assert.equal(await metricValue(c, { operator: 'asr', policy: 'drop-oldest' }), 0);
    assert.equal(await metricTotal(c), 14);
    c.remove({ operator: 'vad', policy: 'drop-oldest' });
    assert.equal(await metricValue(c, { operator: 'vad', policy: 'drop-oldest' }), 0);
    assert.equal(await metricTotal(c), 11);

    const g = gauge(named('test_metrics_read_g'), 'a gauge');
    g.inc();
    g.inc();
    g.dec();
    assert.equal(await metricValue(g), 1);

    const h = histogram(named('test_metrics_read_h'), 'a histogram', ['model'], [1, 2, 4]);
    h.observe({ model: 'a' }, 1);
    h.observe({ model: 'a' }, 3);
    h.observe({ model: 'b' }, 8);
    assert.equal(await histogramCount(h, { model: 'a' }), 2);
    assert.equal(await histogramCount(h, { model: 'c' }), 0);
    assert.deepEqual(await histogramTotals(h), { count: 3, sum: 12 });
  });

  it('the shared metrics keep their names, help and buckets, in the one registry', async () => {
    assert.equal(metrics.getSingleMetric('causeway_frames_dropped_total'), sharedMetrics.drops);
    sharedMetrics.batchSize.observe({ model: 'test-metrics' }, 3);
    const text = await metrics.getSingleMetricAsString('causeway_batch_size');
    assert.match(text, /^# HELP causeway_batch_size Streams whose steps ran together in one model run$/m);
    const les = [...text.matchAll(/^causeway_batch_size_bucket\{le="([^"]+)",model="test-metrics"\}/gm)].map((m) => m[1]);
    assert.deepEqual(les, ['1', '2', '4', '8', '16', '32', '64', '128', '256', '512', '+Inf']);
    sharedMetrics.batchSize.remove({ model: 'test-metrics' });
  });

  it("collectProcessMetrics adds prom-client's process and Node.js metrics, unprefixed, once", async () => {
    collectProcessMetrics();
    collectProcessMetrics();
    const text = await metrics.metrics();
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  });
});
