import { describe, it, expect } from 'vitest';
import { searchAndSelect, bruteForceSelect, specsFor } from '../../src/select/search.js';
import type { Budget, CandidateSpec, Measured } from '../../src/select/types.js';
import type { Agreement, Measurement } from '../../src/profile/types.js';
import type { Family } from '../../src/zoo/graph.js';
import type { ProviderName } from '../../src/engine/engine.js';
import { rng, variant, meas, failed } from './select-fixtures.js';
import { demotion } from '../../src/select/accuracy.js';

const FAMILIES: Family[] = ['mobilenet_v1', 'mobilenet_v2', 'shufflenet_v1', 'squeezenet', 'xception'];

const agreement = (agreeing: number, frames = 9, nativeResolution = 224): Agreement => ({ ok: true, nativeResolution, frames, agreeing, probe: 'calib', probeSet: 'f'.repeat(64), measuredAt: '2024-01-01T00:00:00.000Z' });

/**
 * A random recorded ladder: chains whose latency never decreases with MACs, as the search assumes. Accuracies
 * are published, estimated (reduced-resolution rungs, which may carry a measured agreement) or unknown.
 */
function randomLadder(r: () => number): { specs: CandidateSpec[]; recorded: Map<string, Measured> } {
  const specs: CandidateSpec[] = [];
  const recorded = new Map<string, Measured>();
  const chains = 1 + Math.floor(r() * 5);
  const accLevels = [0.4, 0.5, 0.6, 0.65, 0.7, 0.72];
  for (let c = 0; c < chains; c++) {
    const family = FAMILIES[Math.floor(r() * FAMILIES.length)]!;
    const precision = r() < 0.5 ? 'int8' : 'fp32';
    const provider: ProviderName = r() < 0.8 ? 'cpu' : 'cuda';
    // one chain per (family, precision, provider): that is the set the monotone-latency assumption covers
    if (specs.some((s) => s.variant.family === family && s.variant.precision === precision && s.provider === provider)) continue;
    const n = 1 + Math.floor(r() * 10);
    let macs = 5e6;
    let lat = 1 + r() * 5;
    for (let i = 0; i < n; i++) {
      // sometimes equal MACs (two files of one network), whose latencies need not be ordered
      if (i === 0 || r() > 0.15) { macs += 1e6 + Math.floor(r() * 50) * 1e6; lat += 3 + r() * 15; }
      const id = `${family}-${precision}-c${c}-${i}`;
      if (specs.some((s) => s.variant.id === id && s.provider === provider)) continue;
      const acc = r() < 0.25 ? undefined : accLevels[Math.floor(r() * accLevels.length)];
      const estimated = acc !== undefined && r() < 0.5;
      const v = variant(id, { family, precision, macs, ...(acc === undefined ? {} : estimated ? { estimatedAccuracy: acc - 0.005 * Math.floor(r() * 3) } : { referenceAccuracy: acc }) });
      specs.push({ variant: v, provider });
      const base = lat - r() * 3; // equal-MAC siblings land anywhere in their level, in either order
      let ms: Measurement[];
      if (r() < 0.1) {
        ms = [failed(id, r() < 0.5 ? 'crashed: the profiler child killed by SIGSEGV while timing runs' : 'out of memory budget: killed')];
      } else {
        const threads = 1 + Math.floor(r() * 3);
        ms = Array.from({ length: threads }, (_, t) => meas(id, t === 0 ? base : base * (1 + r()), { threads: t + 1, provider, mem: 5 + r() * 100 }));
      }
      recorded.set(`${id}@${provider}`, { measurements: ms, ...(estimated && r() < 0.7 ? { agreement: agreement(Math.floor(r() * 10)) } : {}) });
    }
  }
  return { specs, recorded };
}

function randomBudget(r: () => number): Budget {
  const b: Budget = {};
  if (r() < 0.9) b.latencyMs = 1 + r() * 120;
  if (r() < 0.3) b.memoryMb = 10 + r() * 100;
  if (r() < 0.2) b.minAccuracy = [0.5, 0.6, 0.65][Math.floor(r() * 3)]!;
  if (r() < 0.2) b.percentile = r() < 0.5 ? 'p50' : 'p99';
  if (r() < 0.1) b.fps = 5 + r() * 60;
  if (r() < 0.6) b.minAgreement = [0.5, 0.7, 1][Math.floor(r() * 3)]!;
  return b;
}

describe('searchAndSelect', () => {
  it('picks exactly what brute force picks on 3000 random recorded ladders (seeded, published/estimated/unknown accuracy, some demoted), measuring fewer', async () => {
    const r = rng(20240601);
    let measured = 0, total = 0, nonNull = 0, estimatedChosen = 0, demotedChosen = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const { specs, recorded } = randomLadder(r);
      const budget = randomBudget(r);
      const measure = async (c: CandidateSpec) => recorded.get(`${c.variant.id}@${c.provider}`)!;
      const seen = new Set<string>();
      const { decision: searched, candidates: searchedCands } = await searchAndSelect(specs, budget, async (c) => {
        const id = `${c.variant.id}@${c.provider}`;
        expect(seen.has(id), `measured ${id} twice`).toBe(false);
        seen.add(id);
        return measure(c);
      });
      const { decision: brute, candidates: bruteCands } = await bruteForceSelect(specs, budget, measure);
      const ctx = `trial ${trial}`;
      // the search hands back every candidate: what was measured for it, nothing where it was pruned
      expect(searchedCands.map((c) => c.id), ctx).toEqual(bruteCands.map((c) => c.id));
      for (const [i, c] of searchedCands.entries()) {
        expect(c.measurements, `${ctx} ${c.id}`).toEqual(seen.has(c.id) ? bruteCands[i]!.measurements : []);
        expect(c.agreement, `${ctx} ${c.id}`).toEqual(seen.has(c.id) ? bruteCands[i]!.agreement : undefined);
      }
      expect(searched.chosen?.id ?? null, ctx).toBe(brute.chosen?.id ?? null);
      expect(searched.chosenMeasurement?.threads, ctx).toBe(brute.chosenMeasurement?.threads);
      expect(searched.measured, ctx).toBe(seen.size);
      expect(searched.ladder).toBe(specs.length);
      // every candidate gets exactly one verdict
      expect(searched.rejected.length + (searched.chosen ? 1 : 0)).toBe(specs.length);
      measured += searched.measured;
      total += specs.length;
      if (brute.chosen) nonNull++;
      if (brute.chosen?.variant.estimatedAccuracy !== undefined) estimatedChosen++;
      if (brute.chosen && demotion(brute.chosen, budget.minAgreement ?? 0)) demotedChosen++;
    }
    expect(nonNull).toBeGreaterThan(500); // the generator exercises both outcomes
    // and the new ranking's cases: an estimate wins, a demoted rung wins when nothing believed fits
    expect(estimatedChosen).toBeGreaterThan(200);
    expect(demotedChosen).toBeGreaterThan(10);
    console.log(`search measured ${measured} of ${total} candidates (${((100 * measured) / total).toFixed(1)}%)`);
    expect(measured / total).toBeLessThan(0.6);
  });

  it('binary-searches a chain: nothing fits in 16 rungs -> at most 5 measured; the top fits -> 1 measured', async () => {
    const specs = specsFor(Array.from({ length: 16 }, (_, i) => variant(`r${i}`, { macs: (i + 1) * 10e6 })));
    const lat = (c: CandidateSpec) => meas(c.variant.id, c.variant.macs / 1e6);
    const { decision: none } = await searchAndSelect(specs, { latencyMs: 5 }, async (c) => lat(c));
    expect(none.chosen).toBeNull();
    expect(none.measured).toBeLessThanOrEqual(5);
    expect(none.rejected.every((x) => x.reason === 'too-slow')).toBe(true);
    expect(none.rejected.find((x) => x.id === 'r14@cpu')?.detail).toMatch(/^not measured: r\d+@cpu, with fewer MACs in the same chain, is already too slow/);
    const { decision: all } = await searchAndSelect(specs, { latencyMs: 1000 }, async (c) => lat(c));
    expect(all.chosen?.id).toBe('r15@cpu');
    expect(all.measured).toBe(1);
    expect(all.rejected.find((x) => x.id === 'r0@cpu')).toEqual({ id: 'r0@cpu', reason: 'dominated', detail: 'not measured: r15@cpu ranks higher and fits' });
    const { decision: mid } = await searchAndSelect(specs, { latencyMs: 95 }, async (c) => lat(c));
    expect(mid.chosen?.id).toBe('r8@cpu');
    expect(mid.measured).toBeLessThanOrEqual(6);
  });

  it('does not measure candidates below the minimum accuracy', async () => {
    const specs = specsFor([variant('lo', { referenceAccuracy: 0.4 }), variant('hi', { referenceAccuracy: 0.7, macs: 300e6 })]);
    const asked: string[] = [];
    const { decision: d } = await searchAndSelect(specs, { minAccuracy: 0.5, latencyMs: 10 }, async (c) => { asked.push(c.variant.id); return meas(c.variant.id, 50); });
    expect(asked).toEqual(['hi']);
    expect(d.chosen).toBeNull();
  });

  it('a demoted rung that fits does not stop the search: a lower rung whose accuracy stands wins, as in brute force', async () => {
    // v2 224 too slow; v2@192 (estimated 69.2%) fits but agrees with 224 on 3/9 frames; v1 0.75/192 (66.1%) fits
    const specs = specsFor([
      variant('v2', { family: 'mobilenet_v2', referenceAccuracy: 0.708, macs: 300e6 }),
      variant('v2@192', { family: 'mobilenet_v2', resolution: 192, nativeResolution: 224, estimatedAccuracy: 0.692, macs: 221e6 }),
      variant('v1', { referenceAccuracy: 0.661, macs: 239e6, resolution: 192 }),
      variant('v1@128', { resolution: 128, nativeResolution: 192, estimatedAccuracy: 0.507, macs: 107e6 }),
    ]);
    const rec: Record<string, Measured> = {
      v2: { measurements: [meas('v2', 40)] },
      'v2@192': { measurements: [meas('v2@192', 30)], agreement: agreement(3) },
      v1: { measurements: [meas('v1', 25)] },
      'v1@128': { measurements: [meas('v1@128', 12)], agreement: agreement(8, 9, 192) },
    };
    const measure = async (c: CandidateSpec) => rec[c.variant.id]!;
    const { decision: d } = await searchAndSelect(specs, { latencyMs: 35, minAgreement: 0.5 }, measure);
    expect(d.chosen?.id).toBe('v1@cpu');
    expect((await bruteForceSelect(specs, { latencyMs: 35, minAgreement: 0.5 }, measure)).decision.chosen?.id).toBe('v1@cpu');
    expect(d.rejected.find((x) => x.id === 'v2@192@cpu')?.detail).toBe('dominated by v1@cpu (66.1% published, also fits; this rung is demoted: only 3/9 probe frames keep the top-1 of the native 224 model (33.3% < 50.0%))');
    // agreement at the threshold stands: v2@192 wins
    rec['v2@192']!.agreement = agreement(5, 10);
    expect((await searchAndSelect(specs, { latencyMs: 35, minAgreement: 0.5 }, measure)).decision.chosen?.id).toBe('v2@192@cpu');
    // without a threshold nothing is demoted
    rec['v2@192']!.agreement = agreement(0);
    expect((await searchAndSelect(specs, { latencyMs: 35 }, measure)).decision.chosen?.id).toBe('v2@192@cpu');
    // when only demoted rungs fit, the best of them runs (better than nothing), and a minimum accuracy refuses it
    rec['v1@128']!.agreement = agreement(1, 9, 192);
    const { decision: tight } = await searchAndSelect(specs, { latencyMs: 20, minAgreement: 0.5 }, measure);
    expect(tight.chosen?.id).toBe('v1@128@cpu');
    const { decision: strict } = await searchAndSelect(specs, { latencyMs: 20, minAgreement: 0.5, minAccuracy: 0.4 }, measure);
    expect(strict.chosen).toBeNull();
    expect(strict.rejected.find((x) => x.id === 'v1@128@cpu')).toEqual({ id: 'v1@128@cpu', reason: 'below-min-accuracy', detail: 'demoted: only 1/9 probe frames keep the top-1 of the native 192 model (11.1% < 50.0%): its accuracy figure cannot vouch for the minimum' });
  });
});
