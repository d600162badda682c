import { describe, it, expect } from 'vitest';
import { Ajv } from 'ajv';
import { select, makeCandidate, resolveBudget } from '../../src/select/policy.js';
import { decisionTable } from '../../src/select/table.js';
import { plotDataFromDecision, plotSvg } from '../../src/select/plot.js';
import { modelPayload } from '../../src/daemon/model-payload.js';
import type { Choice } from '../../src/select/choose.js';
import { modelSchema } from '../../src/mqtt/schemas.js';
import { plotDataFromModel } from '../../src/dashboard/selection.js';
import type { Agreement } from '../../src/profile/types.js';
import type { Candidate } from '../../src/select/types.js';
import { variant, meas } from './select-fixtures.js';

const agree = (agreeing: number, nativeResolution = 224, frames = 9): Agreement => ({ ok: true, nativeResolution, frames, agreeing, probe: '/calib', probeSet: 'a'.repeat(64), measuredAt: '2024-01-01T00:00:00.000Z' });

// The shipped ladder's shape: MobileNet-v2 1.0 at its native 224 (published) and at 192 (an estimate), next to
// MobileNet-v1 0.75 at its native 192 (published, lower).
const ladder = (): Candidate[] => [
  makeCandidate(variant('v2-1.0-224-int8', { family: 'mobilenet_v2', alpha: 1, resolution: 224, nativeResolution: 224, referenceAccuracy: 0.708, macs: 300.8e6 }), 'cpu', [meas('v2-1.0-224-int8', 40)]),
  { ...makeCandidate(variant('v2-1.0-224-int8@192', { family: 'mobilenet_v2', alpha: 1, resolution: 192, nativeResolution: 224, estimatedAccuracy: 0.692, macs: 221.3e6 }), 'cpu', [meas('v2-1.0-224-int8@192', 30)]), agreement: agree(8) },
  makeCandidate(variant('v1-0.75-192-int8', { alpha: 0.75, resolution: 192, nativeResolution: 192, referenceAccuracy: 0.661, macs: 239.3e6 }), 'cpu', [meas('v1-0.75-192-int8', 25)]),
  { ...makeCandidate(variant('v1-0.25-128-int8@96', { alpha: 0.25, resolution: 96, nativeResolution: 128, estimatedAccuracy: 0.307, macs: 7.7e6 }), 'cpu', [meas('v1-0.25-128-int8@96', 3)]), agreement: agree(3, 128) },
];

describe('ranking by accuracy, published or estimated', () => {
  it('a budget the v2 224 rung misses and its 192 rung meets picks v2 at 192 (estimated 69.2% > published 66.1%)', () => {
    const d = select(ladder(), { latencyMs: 35 });
    expect(d.chosen?.id).toBe('v2-1.0-224-int8@192@cpu');
    expect(d.rejected.find((r) => r.id === 'v1-0.75-192-int8@cpu')?.detail).toBe('dominated by v2-1.0-224-int8@192@cpu (more accurate: 69.2% estimated vs 66.1% published, also fits)');
  });

  it('a rung whose agreement is under the threshold ranks below every rung whose accuracy stands, and says why', () => {
    const c = ladder();
    c[1]!.agreement = agree(4);
    const d = select(c, { latencyMs: 35, minAgreement: 0.5 });
    expect(d.chosen?.id).toBe('v1-0.75-192-int8@cpu');
    expect(d.rejected.find((r) => r.id === 'v2-1.0-224-int8@192@cpu')?.detail).toBe('dominated by v1-0.75-192-int8@cpu (66.1% published, also fits; this rung is demoted: only 4/9 probe frames keep the top-1 of the native 224 model (44.4% < 50.0%))');
    // the same agreement without a threshold (or at 0) demotes nothing
    expect(select(c, { latencyMs: 35 }).chosen?.id).toBe('v2-1.0-224-int8@192@cpu');
    expect(select(c, { latencyMs: 35, minAgreement: 0 }).chosen?.id).toBe('v2-1.0-224-int8@192@cpu');
    // a demoted rung still runs when nothing believed fits: better than nothing, and the table says so
    const tight = select(c, { latencyMs: 4, minAgreement: 0.5 });
    expect(tight.chosen?.id).toBe('v1-0.25-128-int8@96@cpu');
    expect(decisionTable(c, tight)).toMatch(/^\* +v1-0\.25-128-int8@96@cpu .* 3\/9 .* CHOSEN \(demoted: only 3\/9 probe frames keep the top-1 of the native 128 model \(33\.3% < 50\.0%\); nothing ranked above it fits\)$/m);
    expect(() => resolveBudget({ minAgreement: 1.5 })).toThrow(/minAgreement is a fraction/);
  });

  it('equal accuracy: the faster wins, and at equal speed the one that needs less memory', () => {
    const mk = (id: string, p90: number, mem: number) => makeCandidate(variant(id, { estimatedAccuracy: 0.692 }), 'cpu', [meas(id, p90, { mem })]);
    const d = select([mk('a', 10, 50), mk('b', 10, 20), mk('c', 12, 5)], { latencyMs: 30 });
    expect(d.chosen?.id).toBe('b@cpu');
    expect(d.rejected.find((r) => r.id === 'a@cpu')?.detail).toBe('dominated by b@cpu (same accuracy and speed, less memory: 20.0 vs 50.0 MB)');
    expect(d.rejected.find((r) => r.id === 'c@cpu')?.detail).toBe('dominated by b@cpu (same accuracy, faster: p90 10.0 vs 12.0 ms)');
  });

  it('the table and the chart say for each candidate whether its accuracy is published or estimated, and its agreement', () => {
    const c = ladder();
    const d = select(c, { latencyMs: 35, minAgreement: 0.5 });
    const t = decisionTable(c, d);
    expect(t.split('\n')[0]).toMatch(/candidate +prec +MMACs +top-1 +kind +agree +p50 ms/);
    expect(t).toMatch(/^\* +v2-1\.0-224-int8@192@cpu +int8 +221\.3 +69\.2% +est +8\/9 .* CHOSEN$/m);
    expect(t).toMatch(/^ +v1-0\.75-192-int8@cpu +int8 +239\.3 +66\.1% +pub +- /m);
    expect(t).toContain('pub = published, est = estimated');
    const data = plotDataFromDecision(c, d);
    expect(data.yKind).toBe('accuracy');
    const svg = plotSvg(data);
    expect(svg).toMatch(/class="point chosen" data-id="v2-1.0-224-int8@192@cpu" data-accuracy="estimated"/);
    expect(svg).toMatch(/data-id="v1-0.75-192-int8@cpu" data-accuracy="published" [^>]*fill="#0969da"/);
    expect(svg).toMatch(/data-id="v1-0.25-128-int8@96@cpu" data-accuracy="estimated" [^>]*fill="#fff" stroke=/);
  });

  it('the model payload carries accuracy, its kind, the agreement and the demotion, and validates against its schema', () => {
    const c = ladder();
    c[3]!.agreement = agree(2, 128);
    const decision = select(c, { latencyMs: 35, minAgreement: 0.5 });
    const choice: Choice = { variant: decision.chosen!.variant, provider: 'cpu', threads: 1, decision, reason: 'test', overBudget: false, ladder: c.length, candidates: c };
    const payload = { ...modelPayload('dev', 'board', choice), session: 1 };
    const ajv = new Ajv({ strict: false });
    expect(ajv.validate(modelSchema, payload), JSON.stringify(ajv.errors)).toBe(true);
    expect(payload.variant).toMatchObject({ accuracy: 0.692, accuracyKind: 'estimated' });
    const byId = new Map(payload.candidates.map((x) => [x.id, x]));
    expect(byId.get('v2-1.0-224-int8@192@cpu')).toMatchObject({ accuracy: 0.692, accuracyKind: 'estimated', agreement: 0.89, probeFrames: 9, chosen: true });
    expect(byId.get('v1-0.75-192-int8@cpu')).toMatchObject({ accuracy: 0.661, accuracyKind: 'published', referenceAccuracy: 0.661 });
    expect(byId.get('v1-0.75-192-int8@cpu')!.agreement).toBeUndefined();
    expect(byId.get('v1-0.25-128-int8@96@cpu')!.demoted).toMatch(/^demoted: only 2\/9 probe frames/);
    // the dashboard draws the same chart from the payload, estimated points hollow
    const pts = plotDataFromModel(payload);
    expect(pts.yKind).toBe('accuracy');
    expect(pts.points.find((p) => p.id === 'v2-1.0-224-int8@192@cpu')).toMatchObject({ y: 0.692, accuracyKind: 'estimated' });
  });
});
