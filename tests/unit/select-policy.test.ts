import { describe, it, expect } from 'vitest';
import { select, resolveBudget, makeCandidate } from '../../src/select/policy.js';
import { variant, meas, failed } from './select-fixtures.js';
import { fallbackReason, fastestFallback, missCauses } from '../../src/select/misses.js';
import { searchAndSelect, specsFor } from '../../src/select/search.js';
import { decisionTable } from '../../src/select/table.js';

const ladder = () => [
  makeCandidate(variant('v1-0.25-128', { referenceAccuracy: 0.395, macs: 14e6 }), 'cpu', [meas('v1-0.25-128', 4, { mem: 8 })]),
  makeCandidate(variant('v1-0.5-160', { referenceAccuracy: 0.6, macs: 77e6 }), 'cpu', [meas('v1-0.5-160', 12, { mem: 15 })]),
  makeCandidate(variant('v1-0.75-192', { referenceAccuracy: 0.665, macs: 233e6 }), 'cpu', [meas('v1-0.75-192', 30, { mem: 30 })]),
  makeCandidate(variant('v2-1.0-224', { family: 'mobilenet_v2', referenceAccuracy: 0.71, macs: 300e6 }), 'cpu', [meas('v2-1.0-224', 45.3, { mem: 60 })]),
];
const reason = (d: ReturnType<typeof select>, id: string) => d.rejected.find((r) => r.id === id);

describe('select (pure policy on recorded measurements)', () => {
  it('picks the most accurate candidate whose p90 fits, and says why each other lost', () => {
    const d = select(ladder(), { latencyMs: 33 });
    expect(d.chosen?.id).toBe('v1-0.75-192@cpu');
    expect(d.chosenMeasurement?.latencyMs.p90).toBe(30);
    expect(reason(d, 'v2-1.0-224@cpu')).toEqual({ id: 'v2-1.0-224@cpu', reason: 'too-slow', detail: 'too slow by 12.3 ms (p90 45.3 > 33.0)' });
    expect(reason(d, 'v1-0.5-160@cpu')?.reason).toBe('dominated');
    expect(reason(d, 'v1-0.5-160@cpu')?.detail).toContain('dominated by v1-0.75-192@cpu (more accurate: 66.5% published vs 60.0% published');
    expect(d.rejected).toHaveLength(3);
    expect(d.measured).toBe(4);
    expect(d.ladder).toBe(4);
  });

  it('no budget: the largest wins; an impossible budget: nothing is chosen and everything is too slow', () => {
    expect(select(ladder(), {}).chosen?.id).toBe('v2-1.0-224@cpu');
    const d = select(ladder(), { latencyMs: 1 });
    expect(d.chosen).toBeNull();
    expect(d.rejected.map((r) => r.reason)).toEqual(['too-slow', 'too-slow', 'too-slow', 'too-slow']);
  });

  it('fps becomes 1000/fps ms and the tighter of fps and latency wins', () => {
    expect(select(ladder(), { fps: 30 }).chosen?.id).toBe('v1-0.75-192@cpu'); // 33.3 ms
    expect(select(ladder(), { fps: 40 }).chosen?.id).toBe('v1-0.5-160@cpu'); // 25 ms
    expect(select(ladder(), { fps: 10, latencyMs: 20 }).chosen?.id).toBe('v1-0.5-160@cpu');
    expect(resolveBudget({ fps: 20, latencyMs: 100 }).latencyMs).toBe(50);
  });

  it('judges the requested percentile, never the mean', () => {
    const c = [
      makeCandidate(variant('big', { referenceAccuracy: 0.7 }), 'cpu', [meas('big', 30, { p50: 20, p99: 80 })]),
      makeCandidate(variant('small', { referenceAccuracy: 0.5 }), 'cpu', [meas('small', 10, { p99: 12 })]),
    ];
    expect(select(c, { latencyMs: 35 }).chosen?.id).toBe('big@cpu');
    expect(select(c, { latencyMs: 35, percentile: 'p99' }).chosen?.id).toBe('small@cpu');
    expect(select(c, { latencyMs: 25, percentile: 'p50' }).chosen?.id).toBe('big@cpu');
    expect(reason(select(c, { latencyMs: 35, percentile: 'p99' }), 'big@cpu')?.detail).toBe('too slow by 45.0 ms (p99 80.0 > 35.0)');
  });

  it('memory budget in MB and as a fraction of available memory; the tighter wins', () => {
    const d = select(ladder(), { memoryMb: 20 });
    expect(d.chosen?.id).toBe('v1-0.5-160@cpu');
    expect(reason(d, 'v2-1.0-224@cpu')).toEqual({ id: 'v2-1.0-224@cpu', reason: 'too-big', detail: 'too big by 40.0 MB (peak 60.0 > 20.0 MB)' });
    expect(select(ladder(), { memoryFraction: 0.25, availableMb: 200 }).chosen?.id).toBe('v1-0.75-192@cpu'); // 50 MB
    expect(select(ladder(), { memoryFraction: 0.5, availableMb: 200, memoryMb: 10 }).chosen?.id).toBe('v1-0.25-128@cpu');
    expect(() => select(ladder(), { memoryFraction: 0.5 })).toThrow(/availableMb/);
  });

  it('minimum accuracy rejects below it and unknown accuracy, without needing a measurement', () => {
    const c = [...ladder(), makeCandidate(variant('zoo-seeded', { macs: 900e6 }), 'cpu')];
    const d = select(c, { latencyMs: 100, minAccuracy: 0.65 });
    expect(d.chosen?.id).toBe('v2-1.0-224@cpu');
    expect(reason(d, 'v1-0.5-160@cpu')).toEqual({ id: 'v1-0.5-160@cpu', reason: 'below-min-accuracy', detail: 'below the minimum by 5.0 points (60.0% published < 65.0%)' });
    expect(reason(d, 'zoo-seeded@cpu')?.reason).toBe('below-min-accuracy');
    expect(reason(d, 'zoo-seeded@cpu')?.detail).toMatch(/accuracy unknown/);
    expect(select(ladder(), { latencyMs: 20, minAccuracy: 0.65 }).chosen).toBeNull();
  });

  it('failed measurements lose as failed; a kill for memory counts as too big; no measurement is not-measured', () => {
    const c = ladder();
    c[3]!.measurements = [failed('v2-1.0-224', 'crashed: the profiler child killed by SIGSEGV while timing runs')];
    c[2]!.measurements = [failed('v1-0.75-192', 'out of memory budget: resident memory grew 300 MB over the child\'s baseline')];
    c[1]!.measurements = [];
    const d = select(c, { latencyMs: 100 });
    expect(d.chosen?.id).toBe('v1-0.25-128@cpu');
    expect(reason(d, 'v2-1.0-224@cpu')?.reason).toBe('failed');
    expect(reason(d, 'v2-1.0-224@cpu')?.detail).toMatch(/SIGSEGV/);
    expect(reason(d, 'v1-0.75-192@cpu')?.reason).toBe('too-big');
    expect(reason(d, 'v1-0.5-160@cpu')?.reason).toBe('not-measured');
    expect(d.measured).toBe(3);
  });

  it('same accuracy: the faster wins and the other is dominated (int8 not faster here -> fp32)', () => {
    const c = [
      makeCandidate(variant('net-int8', { referenceAccuracy: 0.7, precision: 'int8' }), 'cpu', [meas('net-int8', 25)]),
      makeCandidate(variant('net-fp32', { referenceAccuracy: 0.7, precision: 'fp32' }), 'cpu', [meas('net-fp32', 20)]),
    ];
    const d = select(c, { latencyMs: 30 });
    expect(d.chosen?.id).toBe('net-fp32@cpu');
    expect(reason(d, 'net-int8@cpu')?.detail).toBe('dominated by net-fp32@cpu (same accuracy, faster: p90 20.0 vs 25.0 ms)');
    // when fp32 does not fit memory the int8 one still does
    c[1]!.measurements = [meas('net-fp32', 20, { mem: 80 })];
    expect(select(c, { latencyMs: 30, memoryMb: 50 }).chosen?.id).toBe('net-int8@cpu');
  });

  it('twins (one file in both precisions) tied on accuracy: the lower measured p90 wins, then less memory, and the reason says so', () => {
    const twin = (id: string, precision: 'int8' | 'fp32', p90: number, mem: number, p50: number) => makeCandidate(
      variant(id, { referenceAccuracy: 0.7, precision, source: `tflite:abc${precision === 'fp32' ? ':dequantized' : ''}` }), 'cpu', [meas(id, p90, { mem, p50 })]);
    // int8 is faster at p50 but slower at p90: p90 decides
    let d = select([twin('m-int8', 'int8', 12, 10, 6), twin('m-fp32-deq', 'fp32', 10, 20, 9)], { latencyMs: 30 });
    expect(d.chosen?.id).toBe('m-fp32-deq@cpu');
    expect(reason(d, 'm-int8@cpu')?.detail).toBe('dominated by m-fp32-deq@cpu (its fp32 twin m-fp32-deq@cpu ties on accuracy and has the lower measured p90: 10.0 vs 12.0 ms)');
    // same p90: less memory wins
    d = select([twin('m-int8', 'int8', 10, 10, 6), twin('m-fp32-deq', 'fp32', 10, 20, 9)], { latencyMs: 30 });
    expect(d.chosen?.id).toBe('m-int8@cpu');
    expect(reason(d, 'm-fp32-deq@cpu')?.detail).toBe('dominated by m-int8@cpu (its int8 twin m-int8@cpu ties on accuracy and speed, and needs less memory: 10.0 vs 20.0 MB)');
  });

  it('unknown accuracy ranks by MACs, below any known accuracy', () => {
    const c = [
      makeCandidate(variant('a', { macs: 50e6 }), 'cpu', [meas('a', 5)]),
      makeCandidate(variant('b', { macs: 80e6 }), 'cpu', [meas('b', 8)]),
    ];
    expect(select(c, { latencyMs: 10 }).chosen?.id).toBe('b@cpu');
    expect(select(c, { latencyMs: 6 }).chosen?.id).toBe('a@cpu');
    c.push(makeCandidate(variant('known', { macs: 10e6, referenceAccuracy: 0.4 }), 'cpu', [meas('known', 2)]));
    expect(select(c, { latencyMs: 10 }).chosen?.id).toBe('known@cpu');
  });

  it('providers and thread counts: each provider is a candidate; the fastest fitting thread count decides', () => {
    const v = variant('net', { referenceAccuracy: 0.7 });
    const c = [
      makeCandidate(v, 'cpu', [meas('net', 40, { threads: 1 }), meas('net', 22, { threads: 4 }), meas('net', 25, { threads: 3 })]),
      makeCandidate(v, 'cuda', [meas('net', 5, { provider: 'cuda', mem: 500 })]),
    ];
    const d = select(c, { latencyMs: 30, memoryMb: 200 });
    expect(d.chosen?.id).toBe('net@cpu');
    expect(d.chosenMeasurement?.threads).toBe(4);
    expect(reason(d, 'net@cuda')?.reason).toBe('too-big');
    expect(select(c, { latencyMs: 30 }).chosen?.id).toBe('net@cuda');
  });

  it('refuses invalid budgets and duplicate candidates with a message', () => {
    expect(() => select(ladder(), { latencyMs: -1 })).toThrow(/latencyMs must be a number > 0/);
    expect(() => select(ladder(), { fps: 0 })).toThrow(/fps/);
    expect(() => select(ladder(), { minAccuracy: 65 })).toThrow(/fraction/);
    expect(() => select(ladder(), { percentile: 'mean' as 'p90' })).toThrow(/percentile/);
    const l = ladder();
    expect(() => select([...l, l[0]!], {})).toThrow(/twice/);
  });
});

/**
 * Why nothing fits: each cause names the setting behind it, and only the causes that excluded a candidate
 * (the reviewer's repro: minAccuracy=0.9 said nothing about accuracy; memoryMb=1 advised relaxing latency too).
 */
describe('nothing fits: the reason, grouped by cause, names the setting to change', () => {
  const smallest = (d: ReturnType<typeof select>, id = 'v1-0.25-128@cpu') => fallbackReason(d, { id, kind: 'smallest', percentile: 'p90', latencyMs: 0.5 });

  it('accuracy only: names budget.minAccuracy and `models pull`, never latency or memory, and says the model running is refused', () => {
    const d = select(ladder(), { latencyMs: 200, minAccuracy: 0.9 });
    expect(d.chosen).toBeNull();
    expect(missCauses(d)).toBe('4 of 4 below budget.minAccuracy 90.0% (or with no accuracy figure, or one in doubt): lower budget.minAccuracy, or `edgefit models pull` for real weights with a published accuracy');
    const why = smallest(d);
    expect(why).toMatch(/^NOTHING FITS THE BUDGET: 4 of 4 below budget\.minAccuracy 90\.0%/);
    expect(why).toContain('running the smallest variant v1-0.25-128@cpu instead (p90 0.5 ms); IT IS BELOW budget.minAccuracy (below the minimum by 50.5 points (39.5% published < 90.0%))');
    expect(why).not.toMatch(/latencyMs|memoryMb|budget\.fps/);
    // `profile` and `select` print the same causes under their table
    expect(decisionTable(ladder(), d)).toContain(`\nnothing fits the budget (p90 <= 200.0 ms, top-1 >= 90.0%); measured 4 of 4\nwhy: ${missCauses(d)}\n`);
  });

  it('accuracy only, as `run` decides it (the search prunes every rung without measuring): the same cause', async () => {
    const specs = specsFor(ladder().map((c) => c.variant));
    let measured = 0;
    const { decision } = await searchAndSelect(specs, { latencyMs: 200, minAccuracy: 0.9 }, async (s) => { measured++; return meas(s.variant.id, 1); });
    expect(measured).toBe(0);
    expect(decision.chosen).toBeNull();
    expect(missCauses(decision)).toMatch(/^4 of 4 below budget\.minAccuracy 90\.0% .*: lower budget\.minAccuracy, or `edgefit models pull`/);
  });

  it('memory only: names budget.memoryMb, not the latency budget every rung meets', () => {
    const d = select(ladder(), { latencyMs: 200, memoryMb: 1 });
    expect(missCauses(d)).toBe('4 of 4 over the memory budget of 1 MB: raise budget.memoryMb (or budget.memoryFraction when budget.memoryMb is 0)');
    const why = fallbackReason(d, { id: 'v1-0.25-128@cpu', kind: 'fastest measured', percentile: 'p90', latencyMs: 4 });
    expect(why).toBe(`NOTHING FITS THE BUDGET: ${missCauses(d)}; running the fastest measured variant v1-0.25-128@cpu instead (p90 4.0 ms)`);
    expect(why).not.toMatch(/latencyMs|minAccuracy|budget\.fps/);
  });

  it('stopped for memory when measured, with no memory budget now: still the memory settings, and measure again', () => {
    const d = select([makeCandidate(variant('huge', { referenceAccuracy: 0.8 }), 'cpu', [failed('huge', 'out of memory budget (peak 900 MB > 400 MB)')])], {});
    expect(d.rejected.map((r) => r.reason)).toEqual(['too-big']);
    expect(missCauses(d)).toBe('1 of 1 ran out of memory when measured: raise budget.memoryMb (or budget.memoryFraction) or free memory on the board, and measure again');
  });

  it('latency only: names budget.latencyMs / budget.fps, not memory or accuracy', () => {
    const d = select(ladder(), { latencyMs: 1 });
    expect(missCauses(d)).toBe('4 of 4 too slow for p90 <= 1.0 ms: relax budget.latencyMs / budget.fps');
    expect(fallbackReason(d, { id: 'v1-0.25-128@cpu', kind: 'fastest measured', percentile: 'p90', latencyMs: 4 })).not.toMatch(/memoryMb|minAccuracy|IT IS BELOW/);
  });

  it('mixed: every cause once, counted, in the order accuracy, memory, latency; the fallback meets the minimum, so it is not called refused', () => {
    // v1-0.25 is below 50%; v1-0.5 fits memory but misses 10 ms; v1-0.75 and v2 are over 20 MB
    const c = ladder();
    const d = select(c, { latencyMs: 10, memoryMb: 20, minAccuracy: 0.5 });
    expect(d.chosen).toBeNull();
    expect(missCauses(d)).toBe([
      '1 of 4 below budget.minAccuracy 50.0% (or with no accuracy figure, or one in doubt): lower budget.minAccuracy, or `edgefit models pull` for real weights with a published accuracy',
      '2 of 4 over the memory budget of 20 MB: raise budget.memoryMb (or budget.memoryFraction when budget.memoryMb is 0)',
      '1 of 4 too slow for p90 <= 10.0 ms: relax budget.latencyMs / budget.fps',
    ].join('; '));
    // the refused v1-0.25 (4 ms) is faster, but a rung that meets budget.minAccuracy runs first
    const f = fastestFallback(c, d);
    expect(f?.candidate.id).toBe('v1-0.5-160@cpu');
    const why = fallbackReason(d, { id: f!.candidate.id, kind: 'fastest measured', percentile: 'p90', latencyMs: f!.measurement.latencyMs.p90 });
    expect(why).toContain('running the fastest measured variant v1-0.5-160@cpu instead (p90 12.0 ms)');
    expect(why).not.toContain('IT IS BELOW');
  });

  it('memory before accuracy: when only rungs over the memory budget meet the minimum, one within it runs (said to be below the minimum)', () => {
    // minimum 65%: only v1-0.75 and v2 meet it, and both are over 20 MB; v1-0.25 and v1-0.5 fit memory
    const c = ladder();
    const d = select(c, { latencyMs: 200, memoryMb: 20, minAccuracy: 0.65 });
    expect(d.chosen).toBeNull();
    const f = fastestFallback(c, d)!;
    expect(['v1-0.25-128@cpu', 'v1-0.5-160@cpu']).toContain(f.candidate.id);
    expect(d.rejected.find((r) => r.id === f.candidate.id)?.reason).toBe('below-min-accuracy');
    expect(fallbackReason(d, { id: f.candidate.id, kind: 'fastest measured', percentile: 'p90', latencyMs: f.measurement.latencyMs.p90 })).toContain('IT IS BELOW budget.minAccuracy');
  });

  it('failed and unmeasured candidates say what to run; the fallback is below the minimum only when nothing else ran', () => {
    const c = [
      makeCandidate(variant('broken', { referenceAccuracy: 0.7 }), 'cpu', [failed('broken', 'bad model')]),
      makeCandidate(variant('new', { referenceAccuracy: 0.7 }), 'cpu'),
      makeCandidate(variant('weak', { referenceAccuracy: 0.3 }), 'cpu', [meas('weak', 3)]),
    ];
    const d = select(c, { latencyMs: 50, minAccuracy: 0.5 });
    expect(missCauses(d)).toBe('1 of 3 below budget.minAccuracy 50.0% (or with no accuracy figure, or one in doubt): lower budget.minAccuracy, or `edgefit models pull` for real weights with a published accuracy; 1 of 3 failed to run: see `edgefit doctor`; 1 of 3 not measured on this board: run `edgefit profile`');
    expect(fastestFallback(c, d)?.candidate.id).toBe('weak@cpu');
    expect(fallbackReason(d, { id: 'weak@cpu', kind: 'fastest measured', percentile: 'p90', latencyMs: 3 })).toContain('IT IS BELOW budget.minAccuracy');
  });
});
