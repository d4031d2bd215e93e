import assert from 'node:assert/strict';
import { Registry } from '../../core/metrics.js';

describe('core/metrics', () => {
  it('renders counters, gauges and histograms in the Prometheus text format, with escaped labels', () => {
    const r = new Registry();
    const c = r.counter('x_total', 'a counter');
    c.inc({ op: 'a"b' }, 2);
    c.inc({ op: 'a"b' });
    r.gauge('g', 'a gauge').set({ s: '1' }, 5);
    const h = r.histogram('h_ms', 'a histogram', [1, 10]);
    h.observe({}, 0.5);
    h.observe({}, 5);
    h.observe({}, 50);
    assert.equal(
      r.render(),
      [
        '# HELP x_total a counter',
        '# TYPE x_total counter',
        'x_total{op="a\\"b"} 3',
        '# HELP g a gauge',
        '# TYPE g gauge',
        'g{s="1"} 5',
        '# HELP h_ms a histogram',
        '# TYPE h_ms histogram',
        'h_ms_bucket{le="1"} 1',
        'h_ms_bucket{le="10"} 2',
        'h_ms_bucket{le="+Inf"} 3',
        'h_ms_sum 55.5',
        'h_ms_count 3',
        '',
      ].join('\n'),
    );
    c.remove({ op: 'a"b' });
    assert.equal(c.get({ op: 'a"b' }), 0);
    assert.equal(r.counter('x_total', 'again'), c, 'one metric per name');
  });
});
