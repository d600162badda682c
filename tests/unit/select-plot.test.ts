import { afterAll, describe, it, expect } from 'vitest';
import { plotSvg, plotDataFromDecision, type PlotData } from '../../src/select/plot.js';
import { select, makeCandidate } from '../../src/select/policy.js';
import { decisionTable } from '../../src/select/table.js';
import { variant, meas, failed } from './select-fixtures.js';
import { BoundedWorker } from '../helpers/bounded-worker.js';
import { badCoordinates } from '../helpers/svg-checks.js';

const cands = () => [
  makeCandidate(variant('big<&>', { referenceAccuracy: 0.7 }), 'cpu', [meas('big<&>', 50)]),
  makeCandidate(variant('mid', { referenceAccuracy: 0.6 }), 'cpu', [meas('mid', 20)]),
  makeCandidate(variant('small', { referenceAccuracy: 0.4 }), 'cpu', [meas('small', 5)]),
  makeCandidate(variant('broken', { referenceAccuracy: 0.65 }), 'cpu', [failed('broken', 'crashed: x')]),
];

describe('plot and table', () => {
  it('draws each measured point, highlights the choice, labels losers, and draws the budget line', () => {
    const c = cands();
    const d = select(c, { latencyMs: 30 });
    const data = plotDataFromDecision(c, d, 'test');
    expect(data.yKind).toBe('accuracy');
    const svg = plotSvg({ ...data, width: 600, height: 400 });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<circle class="point /g)).toHaveLength(3);
    expect(svg.match(/class="point chosen" data-id="mid@cpu"/g)).toHaveLength(1);
    expect(svg).toContain('big&lt;&amp;&gt;@cpu (too-slow)');
    expect(svg).not.toContain('big<&>');
    expect(svg).toContain('not drawn (no figures): broken@cpu (failed)');
    // budget line x: 30 ms on an axis to 60 ms (ticks 0..60 step 10), plot area 70..570
    const m = /<line class="budget" x1="([\d.]+)"/.exec(svg);
    expect(Number(m![1])).toBeCloseTo(70 + (30 / 60) * 500, 1);
  });

  it('uses MACs when an accuracy is unknown', () => {
    const c = [...cands(), makeCandidate(variant('zoo', { macs: 5e8 }), 'cpu', [meas('zoo', 10)])];
    expect(plotDataFromDecision(c, select(c, {})).yKind).toBe('macs');
  });

  it('the table is sorted by accuracy and says why each lost', () => {
    const c = cands();
    const t = decisionTable(c, select(c, { latencyMs: 30 }));
    const lines = t.split('\n');
    expect(lines[1]).toMatch(/^ +big<&>@cpu .* too-slow: too slow by 20\.0 ms \(p90 50\.0 > 30\.0\)$/);
    expect(lines[2]).toMatch(/broken@cpu .* failed: crashed: x$/);
    expect(lines[3]).toMatch(/^\* +mid@cpu .* CHOSEN$/);
    expect(lines[4]).toMatch(/small@cpu .* dominated: /);
    expect(t).toContain('chosen: mid@cpu (1 thread(s)); budget p90 <= 30.0 ms; measured 4 of 4');
  });
});

describe('plot of hostile figures', () => {
  // the chart is drawn from whatever a device publishes: it must end, whatever the numbers (issue 14: a p90 of
  // 1.7e308 or an accuracy of 1e-323 made the tick loop spin until V8 ran out of memory). Drawn in a worker
  // with a time bound, so a hang fails this test instead of the test run.
  const worker = new BoundedWorker(10_000);
  afterAll(() => worker.stop());

  const point = (id: string, latencyMs: number, y: number, status: 'chosen' | 'fits' | 'rejected' = 'fits') => ({ id, latencyMs, y, status });
  const cases: [string, PlotData][] = [
    ['a latency of 1.7e308 ms', { points: [point('huge', 1.7e308, 0.5, 'chosen'), point('ok', 12, 0.6)], yKind: 'accuracy', percentile: 'p90' }],
    ['accuracies near 1e-323', { points: [point('tiny', 5, 1e-323, 'chosen'), point('tiny2', 8, 5e-324)], yKind: 'accuracy', percentile: 'p90' }],
    ['MACs of 1e308', { points: [point('big', 5, 1e308, 'chosen')], yKind: 'macs', percentile: 'p90' }],
    ['a budget of 1.7e308 ms', { points: [point('a', 5, 0.5, 'chosen')], yKind: 'accuracy', percentile: 'p90', budgets: [{ ms: 1.7e308, label: 'budget' }] }],
    ['latencies of 5e-324 ms', { points: [point('a', 5e-324, 0.5, 'chosen'), point('b', 0, 0.4)], yKind: 'accuracy', percentile: 'p90', budgets: [{ ms: 5e-324, label: 'b' }] }],
    ['negative figures', { points: [point('a', -1e308, -1e308, 'chosen'), point('b', -5, -0.5)], yKind: 'macs', percentile: 'p90', budgets: [{ ms: -1e308, label: 'b' }] }],
    ['non-finite figures', { points: [point('a', Infinity, NaN, 'chosen'), point('b', -Infinity, Infinity)], yKind: 'accuracy', percentile: 'p90', budgets: [{ ms: NaN, label: 'b' }, { ms: Infinity, label: 'c' }] }],
    ['a size of 1e9 pixels', { points: [point('a', 5, 0.5, 'chosen')], yKind: 'accuracy', percentile: 'p90', width: 1e9, height: -1e308 }],
  ];
  for (const [name, data] of cases) {
    it(`renders ${name} within a bound, with finite coordinates`, async () => {
      const out = await worker.run({ kind: 'plot', data }, name);
      expect(out).not.toHaveProperty('error');
      const svg = (out as { svg: string }).svg;
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      expect(badCoordinates(svg)).toEqual([]);
      expect(svg.length).toBeLessThan(200_000);
    });
  }
});
