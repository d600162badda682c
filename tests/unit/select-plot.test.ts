import { describe, it, expect } from 'vitest';
import { plotSvg, plotDataFromDecision } from '../../src/select/plot.js';
import { select, makeCandidate } from '../../src/select/policy.js';
import { decisionTable } from '../../src/select/table.js';
import { variant, meas, failed } from './select-fixtures.js';

const cands = () => [
  makeCandidate(variant('big<&>', { referenceAccuracy: 0.7 }), 'cpu', [meas('big<&>', 50)]),
  makeCandidate(variant('mid', { referenceAccuracy: 0.6 }), 'cpu', [meas('mid', 20)]),
  makeCandidate(variant('small', { referenceAccuracy: 0.4 }), 'cpu', [meas('small', 5)]),
  makeCandidate(variant('broken', { referenceAccuracy: 0.65 }), 'cpu', [failed('broken', 'crashed: x')]),
];

describe('plot and table', () => {
  it('draws each measured point, highlights the choice, labels losers, and draws the budget line', () => {
    const c = cands();
    const d = select(c, { latencyP90Ms: 30 });
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
    const t = decisionTable(c, select(c, { latencyP90Ms: 30 }));
    const lines = t.split('\n');
    expect(lines[1]).toMatch(/^ +big<&>@cpu .* too-slow: too slow by 20\.0 ms \(p90 50\.0 > 30\.0\)$/);
    expect(lines[2]).toMatch(/broken@cpu .* failed: crashed: x$/);
    expect(lines[3]).toMatch(/^\* +mid@cpu .* CHOSEN$/);
    expect(lines[4]).toMatch(/small@cpu .* dominated: /);
    expect(t).toContain('chosen: mid@cpu (1 thread(s)); budget p90 <= 30.0 ms; measured 4 of 4');
  });
});
