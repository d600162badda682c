import { describe, it, expect } from 'vitest';
import { bruteForceOptimum, feasible, optimum, scoreOf, setLoad, stepDown, type JointInput, type JointOption, type SearchStats } from '../../src/select/joint.js';
import { chooseJoint } from '../../src/select/joint-explain.js';
import { jointOptions } from '../../src/select/joint-options.js';
import { shortfall, verifyJoint, type SetMeasure } from '../../src/select/verify-joint.js';
import { makeCandidate } from '../../src/select/policy.js';
import { meas, variant } from './select-fixtures.js';

/** mulberry32: a seeded generator, so every case can be replayed from its seed */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random board and 1-5 cameras with ladders of 1-8 options; models drawn from a small pool so cameras share some. */
function randomCase(seed: number): JointInput {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const n = 1 + Math.floor(r() * 5);
  const pool = Array.from({ length: 6 }, (_, i) => ({
    model: `sha${i}`, timeMs: 1 + r() * 60, memoryMb: 5 + r() * 80, macs: Math.round(10e6 + r() * 500e6),
    accuracy: r() < 0.15 ? undefined : Math.round((0.3 + r() * 0.5) * 1000) / 1000,
  }));
  const cameras = Array.from({ length: n }, (_, i) => ({ id: `cam${i}`, fps: pick([1, 2, 5, 10, 15, 30]), budgetMs: 10 + r() * 200, priority: pick([0, 0, 1, 2]) }));
  const options: Record<string, JointOption[]> = {};
  for (const c of cameras) {
    const len = 1 + Math.floor(r() * 8);
    const used = new Set<string>();
    options[c.id] = [];
    for (let k = 0; k < len; k++) {
      const m = pick(pool);
      const threads = pick([1, 1, 2]);
      const id = `${m.model}/t${threads}`;
      if (used.has(id)) continue;
      used.add(id);
      const t = m.timeMs * (threads === 2 ? 0.6 : 1);
      options[c.id]!.push({ id, model: m.model, threads, timeMs: t, p90Ms: t * (1.05 + r() * 0.3), memoryMb: m.memoryMb, macs: m.macs, ...(m.accuracy !== undefined ? { accuracy: m.accuracy } : {}) });
    }
  }
  return { cameras, options, board: { cores: pick([1, 2, 4]), slowdown: 0.6 + r() * 0.4, ...(r() < 0.6 ? { memoryMb: 30 + r() * 200 } : {}) } };
}

/** The same with interchangeable cameras: some cameras copy another's fps, budget, priority and ladder. */
function twinCase(seed: number): JointInput {
  const inp = randomCase(seed);
  const r = rng(seed ^ 0x5eed);
  const cams = inp.cameras;
  for (let i = 1; i < cams.length; i++) {
    if (r() < 0.6) {
      const src = cams[Math.floor(r() * i)]!;
      cams[i] = { ...src, id: cams[i]!.id };
      inp.options[cams[i]!.id] = inp.options[src.id]!.map((o) => ({ ...o }));
    }
  }
  return inp;
}

const opt = (id: string, model: string, timeMs: number, accuracy: number, o: Partial<JointOption> = {}): JointOption => ({
  id, model, threads: 1, timeMs, p90Ms: timeMs * 1.2, memoryMb: 10, macs: accuracy * 1e9, accuracy, ...o,
});

describe('joint choice: branch and bound against brute force', () => {
  it('finds the brute-force optimum on 600 seeded random ladders (N <= 5, ladders <= 8)', () => {
    let feasibleCases = 0, infeasibleCases = 0, multi = 0, pruned = 0, leaves = 0, bruteLeaves = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const inp = randomCase(seed);
      const stats: SearchStats = { leaves: 0, pruned: 0 };
      const fast = optimum(inp, new Map(), stats);
      const slow = bruteForceOptimum(inp);
      expect(fast, `seed ${seed}`).toEqual(slow);
      if (fast) {
        feasibleCases++;
        expect(feasible(inp, fast)).toBe(true);
        if (inp.cameras.length > 1) multi++;
      } else infeasibleCases++;
      pruned += stats.pruned;
      leaves += stats.leaves;
      bruteLeaves += inp.cameras.reduce((p, c) => p * inp.options[c.id]!.length, 1);
    }
    // the generator must exercise both outcomes and real joint cases, and the search must cut most of the tree
    expect(feasibleCases).toBeGreaterThan(100);
    expect(infeasibleCases).toBeGreaterThan(20);
    expect(multi).toBeGreaterThan(80);
    expect(pruned).toBeGreaterThan(0);
    // 923 of 106052 complete sets when written
    expect(leaves).toBeLessThan(bruteLeaves / 10);
  });
});

describe('joint choice: interchangeable cameras', () => {
  it('finds the brute-force optimum on 500 seeded random cases where cameras copy each other (the symmetry cut)', () => {
    let twins = 0, feasibleCases = 0;
    for (let seed = 1001; seed <= 1500; seed++) {
      const inp = twinCase(seed);
      const fast = optimum(inp);
      expect(fast, `seed ${seed}`).toEqual(bruteForceOptimum(inp));
      const sigs = inp.cameras.map((c) => JSON.stringify([c.fps, c.budgetMs, c.priority]));
      if (new Set(sigs).size < sigs.length) twins++;
      if (fast) feasibleCases++;
    }
    expect(twins).toBeGreaterThan(200);
    expect(feasibleCases).toBeGreaterThan(100);
  });
});

describe('joint choice: the search stays small where ties abound', () => {
  it('16 identical cameras, each rung at three thread counts (options tied on accuracy and MACs): few complete sets scored', () => {
    const rungs = [[40, 0.7, 300e6], [20, 0.6, 150e6], [10, 0.5, 60e6], [5, 0.4, 15e6]] as const;
    const ladder: JointOption[] = rungs.flatMap(([t, a, macs], r) => [1, 2, 3].map((threads) => ({
      id: `r${r}/t${threads}`, model: `sha${r}`, threads, timeMs: t / Math.sqrt(threads), p90Ms: (t / Math.sqrt(threads)) * 1.1, memoryMb: 10, accuracy: a, macs,
    })));
    const cameras = Array.from({ length: 16 }, (_, i) => ({ id: `cam${i}`, fps: 2, budgetMs: 2000, priority: i < 4 ? 1 : 0 }));
    const inp: JointInput = { cameras, options: Object.fromEntries(cameras.map((c) => [c.id, ladder])), board: { cores: 4, slowdown: 0.8 } };
    const stats: SearchStats = { leaves: 0, pruned: 0 };
    const a = optimum(inp, new Map(), stats);
    expect(a).not.toBeNull();
    expect(feasible(inp, a!)).toBe(true);
    // 12^16 complete sets exist; the bounds and the symmetry cut leave a handful
    expect(stats.leaves).toBeLessThan(1000);
  });
});

describe('joint choice: the rule and its reasons', () => {
  // two cameras, 2 cores at slowdown 0.9 = 1.8 cores of capacity
  const board = { cores: 2, slowdown: 0.9 };
  const ladder = () => [opt('big', 'shaB', 80, 0.7), opt('mid', 'shaM', 40, 0.6), opt('small', 'shaS', 10, 0.4)];

  it('a higher-priority camera keeps the accurate model; the other steps down, and every loser says why', () => {
    const inp: JointInput = {
      cameras: [{ id: 'door', fps: 10, budgetMs: 200, priority: 1 }, { id: 'yard', fps: 10, budgetMs: 200, priority: 0 }],
      options: { door: ladder(), yard: ladder() },
      board,
    };
    const t = chooseJoint(inp);
    expect(t.feasible).toBe(true);
    // big + big would fit the board (1.6 cores of 1.8) but it is one model, one session: its worker would need
    // 2 x 10 fps x 80 ms / 0.9 = 178% of its time. So one camera steps down, and the rule says which.
    expect(t.cameras.map((c) => c.option.id)).toEqual(['big', 'mid']);
    const yardBig = t.cameras[1]!.rejected.find((r) => r.id === 'big')!;
    expect(yardBig.reason).toBe('costs-others');
    expect(yardBig.detail).toBe('fits only if door big -> mid; that set ranks lower (accuracy sum of priority 1 cameras 0.60 vs 0.70)');
    const yardSmall = t.cameras[1]!.rejected.find((r) => r.id === 'small')!;
    expect(yardSmall).toEqual({ id: 'small', reason: 'dominated', detail: 'dominated by mid (more accurate: 60.0% vs 40.0%, also fits)' });
    expect(t.cameras[0]!.reason).toContain('70.0%, p90 106.7 ms (96.0 alone) of 200.0 at 1 thread(s), 0.80 cores at 10 fps');
    expect(t.load.demand).toBeCloseTo(1.2, 9);
    expect(t.load.maxBusy).toBeCloseTo(800 / 900, 9);
  });

  it('equal priorities: the largest sum of accuracies wins, not the best single camera', () => {
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 10, budgetMs: 500, priority: 0 }, { id: 'b', fps: 10, budgetMs: 500, priority: 0 }],
      // capacity 1: a big (0.8) + b small (0.1) = 0.9, sum 1.1; a mid + b mid = 0.8, sum 1.2
      options: { a: ladder(), b: ladder() },
      board: { cores: 1, slowdown: 1 },
    };
    const d = chooseJoint(inp);
    expect(d.cameras.map((c) => c.option.id)).toEqual(['mid', 'mid']);
    expect(scoreOf(inp, d.assignment).levels[0]).toBeCloseTo(1.2, 9);
    expect(d.cameras[0]!.rejected.find((r) => r.id === 'big')).toEqual({ id: 'big', reason: 'costs-others', detail: 'fits only if b mid -> small; that set ranks lower (accuracy sum 1.10 vs 1.20)' });
  });

  it('cameras on the same model share one session: its memory counts once, its worker serves both', () => {
    const shared = [opt('m', 'shaX', 20, 0.6, { memoryMb: 60 }), opt('s', 'shaY', 5, 0.4, { memoryMb: 20 })];
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 5, budgetMs: 500, priority: 0 }, { id: 'b', fps: 5, budgetMs: 500, priority: 0 }],
      options: { a: shared, b: shared },
      board: { cores: 2, slowdown: 1, memoryMb: 100 },
    };
    const d = chooseJoint(inp);
    expect(d.cameras.map((c) => c.option.id)).toEqual(['m', 'm']);
    expect(d.load.memoryMb).toBe(60); // counted once, though 2 x 60 > 100
    // one worker at 20 ms a frame serves 50 fps; two cameras at 30 fps need 120% of it: they cannot share it
    const busy: JointInput = { ...inp, cameras: inp.cameras.map((c) => ({ ...c, fps: 30 })) };
    expect(setLoad(busy, [0, 0]).maxBusy).toBeCloseTo(1.2, 9);
    const b = chooseJoint(busy);
    expect(b.feasible).toBe(true);
    expect(b.cameras.map((c) => c.option.id).sort()).toEqual(['m', 's']);
    // at 5 fps the worker has time for both, but a frame may wait for the other camera's run: 24 + 24 ms > 40
    const tight: JointInput = { ...inp, cameras: inp.cameras.map((c) => ({ ...c, budgetMs: 40 })) };
    expect(setLoad(tight, [0, 0]).p90).toEqual([48, 48]);
    const t = chooseJoint(tight);
    expect(t.cameras.map((c) => c.option.id)).toEqual(['m', 's']);
    expect(t.cameras[1]!.rejected[0]).toEqual({ id: 'm', reason: 'costs-others', detail: 'fits only if a m -> s; that set ranks lower (a tie on every figure, broken by the option ids)' });
  });

  it('more sessions than slots: a frame may wait for a slot, one run of every camera on another session shared among the slots', () => {
    const cams = ['a', 'b', 'c'].map((id) => ({ id, fps: 5, budgetMs: 100, priority: 0 }));
    const options = { a: [opt('x', 'shaX', 10, 0.5, { p90Ms: 10 })], b: [opt('y', 'shaY', 10, 0.5, { p90Ms: 10 })], c: [opt('z', 'shaZ', 10, 0.5, { p90Ms: 10 }), opt('x2', 'shaX', 10, 0.5, { p90Ms: 10 })] };
    const inp: JointInput = { cameras: cams, options, board: { cores: 2, slowdown: 1 } };
    const three = setLoad(inp, [0, 0, 0]); // 3 sessions on 2 slots
    expect(three.slots).toBe(2);
    expect(three.p90).toEqual([20, 20, 20]);
    expect(three.waitSlot).toEqual([10, 10, 10]);
    const two = setLoad(inp, [0, 0, 1]); // a and c share x: 2 sessions, enough slots; a and c wait for each other
    expect(two.p90).toEqual([20, 10, 20]);
    expect(two.waitSlot).toEqual([0, 0, 0]);
    expect(two.waitSession).toEqual([10, 0, 10]);
    // a 2-thread session takes both cores: one slot
    expect(setLoad({ ...inp, options: { ...options, a: [opt('x', 'shaX', 10, 0.5, { p90Ms: 10, threads: 2 })] } }, [0, 0, 0]).slots).toBe(1);
  });

  it('an option that cannot serve its camera alone says by how much; one that fits only alone says what overflows', () => {
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 10, budgetMs: 100, priority: 0 }, { id: 'b', fps: 10, budgetMs: 100, priority: 0 }],
      options: {
        a: [opt('huge', 'shaH', 200, 0.8), opt('fat', 'shaF', 70, 0.7), opt('s', 'shaS', 10, 0.4)],
        b: [opt('s2', 'shaS2', 40, 0.5)],
      },
      board: { cores: 1, slowdown: 1, memoryMb: 100 },
    };
    const d = chooseJoint(inp);
    expect(d.cameras.map((c) => c.option.id)).toEqual(['s', 's2']);
    const [huge, fat] = d.cameras[0]!.rejected;
    expect(huge).toEqual({ id: 'huge', reason: 'too-slow', detail: 'too slow by 140.0 ms (p90 240.0 > 100.0)' });
    // one core is one slot: each camera's frame may also wait for the other's run (84 + 48 ms)
    expect(fat).toEqual({
      id: 'fat', reason: 'no-joint-fit',
      detail: 'fits alone, not beside the others: even with their lightest options the set needs 1.10 cores of 1.00; a\'s frames, waiting for the other cameras\' runs, take 132.0 ms (p90) of 100.0; b\'s frames, waiting for the other cameras\' runs, take 132.0 ms (p90) of 100.0',
    });
  });

  it('nothing fits: the smallest set, and per camera by how much it misses', () => {
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 30, budgetMs: 10, priority: 0 }, { id: 'b', fps: 80, budgetMs: 100, priority: 0 }],
      options: { a: ladder(), b: ladder() },
      board: { cores: 1, slowdown: 1 },
    };
    const d = chooseJoint(inp);
    expect(d.feasible).toBe(false);
    expect(d.cameras.map((c) => c.option.id)).toEqual(['small', 'small']);
    expect(d.cameras[0]!.reason).toMatch(/^NOTHING FITS/);
    // small: 10 ms a frame, p90 12 ms; a: 0.3 cores, b: 0.8 cores, both on one session (110% of its worker)
    expect(d.cameras[0]!.misses).toEqual([
      'too slow by 2.0 ms (p90 12.0 > 10.0)',
      'its 0.30 cores are 27% of a set that needs 1.10 of 1.00 (over by 0.10)',
      'its worker is asked for 110% (shared by the cameras running small)',
      'waiting (12.0 ms for the other cameras on its worker), a frame takes 24.0 ms (p90) of 10.0',
    ]);
    expect(d.cameras[0]!.rejected).toEqual([
      { id: 'big', reason: 'too-slow', detail: 'too slow by 86.0 ms (p90 96.0 > 10.0)' },
      { id: 'mid', reason: 'too-slow', detail: 'too slow by 38.0 ms (p90 48.0 > 10.0)' },
    ]);
    expect(d.cameras[1]!.rejected[1]).toEqual({ id: 'mid', reason: 'too-slow-for-fps', detail: 'one worker serves 25.0 fps of 80.0 (mean 40.0 ms a frame)' });
    expect(d.cameras[1]!.misses).toEqual([
      'its 0.80 cores are 73% of a set that needs 1.10 of 1.00 (over by 0.10)',
      'its worker is asked for 110% (shared by the cameras running small)',
    ]);
  });
});

describe('joint choice: options from measured candidates and bad input', () => {
  it('one option per ok measurement, mean as load, p90 as latency, the variant sha as the session key', () => {
    const v = variant('v1-0.5-160', { referenceAccuracy: 0.6, macs: 77e6, sha256: 'ab'.repeat(32) });
    const c = makeCandidate(v, 'cpu', [meas('v1-0.5-160', 12, { threads: 1, mem: 15 }), meas('v1-0.5-160', 8, { threads: 2, mem: 16 })]);
    const o = jointOptions([c]);
    expect(o.map((x) => [x.id, x.threads, x.p90Ms, x.accuracy, x.model])).toEqual([
      ['v1-0.5-160@cpu/t1', 1, 12, 0.6, v.sha256],
      ['v1-0.5-160@cpu/t2', 2, 8, 0.6, v.sha256],
    ]);
  });

  it('refuses duplicate camera ids, ids that are not topic levels, empty ladders, too many cameras and a slowdown outside (0, 1]', () => {
    const base = (): JointInput => ({ cameras: [{ id: 'a', fps: 5, budgetMs: 100, priority: 0 }], options: { a: [opt('x', 'sha', 5, 0.5)] }, board: { cores: 2, slowdown: 0.9 } });
    const dup = base(); dup.cameras.push({ ...dup.cameras[0]! });
    expect(() => optimum(dup)).toThrow(/camera id a appears twice/);
    const slash = base(); slash.cameras[0]!.id = 'a/b'; slash.options['a/b'] = slash.options.a!;
    expect(() => optimum(slash)).toThrow(/not a valid topic level/);
    const empty = base(); empty.options.a = [];
    expect(() => optimum(empty)).toThrow(/has no measured option/);
    const many = base(); many.cameras = Array.from({ length: 17 }, (_, i) => ({ id: `c${i}`, fps: 5, budgetMs: 100, priority: 0 }));
    for (const c of many.cameras) many.options[c.id] = base().options.a!;
    expect(() => optimum(many)).toThrow(/at most 16 cameras per board \(got 17\)/);
    const slow = base(); slow.board.slowdown = 1.5;
    expect(() => optimum(slow)).toThrow(/slowdown must be in \(0, 1\]/);
  });
});

describe('stepDown: the cheapest loss when a set measured short', () => {
  const ladder = (p: string, mid = 0.6) => [opt(`${p}big`, `${p}B`, 40, 0.7), opt(`${p}mid`, `${p}M`, 20, mid), opt(`${p}small`, `${p}S`, 5, 0.4)];
  const board = { cores: 2, slowdown: 1 };

  it('the lowest priority camera first, to its best lighter option; then the next; then none', () => {
    const inp: JointInput = {
      cameras: [{ id: 'door', fps: 5, budgetMs: 500, priority: 1 }, { id: 'yard', fps: 5, budgetMs: 500, priority: 0 }],
      options: { door: ladder('d'), yard: ladder('y') },
      board,
    };
    const s1 = stepDown(inp, [0, 0])!;
    expect(s1).toMatchObject({ camera: 1, from: 0, to: 1, assignment: [0, 1] });
    expect(s1.reason).toBe('yard steps down ybig -> ymid (priority 0, loses 10.0 accuracy points, frees 0.10 cores)');
    expect(stepDown(inp, [0, 2])).toMatchObject({ camera: 0, to: 1, assignment: [1, 2] });
    expect(stepDown(inp, [2, 2])).toBeUndefined();
  });

  it('equal priorities: the camera that loses less accuracy steps down', () => {
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 5, budgetMs: 500, priority: 0 }, { id: 'b', fps: 5, budgetMs: 500, priority: 0 }],
      options: { a: ladder('a'), b: ladder('b', 0.68) },
      board,
    };
    expect(stepDown(inp, [0, 0])).toMatchObject({ camera: 1, to: 1 });
  });

  it('the price is accuracy lost per core freed: a step that frees almost nothing waits', () => {
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 5, budgetMs: 500, priority: 0 }, { id: 'b', fps: 5, budgetMs: 500, priority: 0 }],
      // a's lighter rung loses 1 point but frees 0.0005 cores; b's loses 10 points and frees 0.1 cores
      options: { a: [opt('abig', 'aB', 40, 0.7), opt('anear', 'aN', 39.9, 0.69)], b: ladder('b') },
      board,
    };
    expect(stepDown(inp, [0, 0])).toMatchObject({ camera: 1, to: 1 });
  });
});

describe('verifyJoint: the step-down loop on replayed measurements', () => {
  const ladder = (p: string) => [opt(`${p}big`, `${p}B`, 40, 0.7), opt(`${p}mid`, `${p}M`, 20, 0.6), opt(`${p}small`, `${p}S`, 5, 0.4)];
  const inp: JointInput = {
    cameras: [{ id: 'a', fps: 10, budgetMs: 500, priority: 0 }, { id: 'b', fps: 10, budgetMs: 500, priority: 0 }],
    options: { a: ladder('a'), b: ladder('b') },
    board: { cores: 2, slowdown: 1 },
  };
  /** a board that serves `served` of the frames until the set's demand is at most `fits` cores */
  const replay = (fits: number, served: (demand: number) => number, seen: number[][], p90 = 1) => async (i: JointInput, a: number[]): Promise<SetMeasure> => {
    seen.push(a);
    const demand = setLoad(i, a).demand;
    const ok = demand <= fits;
    const s = ok ? 1 : served(demand);
    const lat = ok ? 1 : p90;
    return {
      assignment: a, windowMs: 1000, slots: 2, predictedLoad: demand, measuredCpuCores: demand, loadGap: 0, predictedMemoryMb: 0, rssGrowthMb: 0, met: ok,
      cameras: i.cameras.map((c) => ({ camera: c.id, option: '', fps: c.fps, budgetMs: c.budgetMs, offered: 10, processed: 10 * s, dropped: 0, errors: 0, achievedFps: c.fps * s, served: s, p90Ms: lat, meanRunMs: 1, predictedLoad: 0, measuredLoad: 0, runGap: 0, meets: ok, misses: ok ? [] : ['short'] })),
    };
  };

  it('a miss with every frame served and every p90 within budget (nothing to size the step by) steps once per round', async () => {
    const seen: number[][] = [];
    let round = 0;
    const v = await verifyJoint(inp, [0, 0], { measure: async (i, a) => { const m = await replay(0, () => 1, seen)(i, a); m.met = ++round > 2; m.cameras.forEach((c) => { c.meets = m.met; }); return m; } });
    expect(seen).toEqual([[0, 0], [1, 0], [1, 1]]); // a tie on price and load: the first camera
    expect(v.met).toBe(true);
    expect(v.rounds.map((r) => r.steps?.length ?? 0)).toEqual([1, 1, 0]);
  });

  it('a board that served half the frames: steps until the predicted demand halves, in one round', async () => {
    const seen: number[][] = [];
    // [0,0] demands 0.8 cores; served 50% -> steps until <= 0.4: [1,0] (0.6), [1,1] (0.4)
    const v = await verifyJoint(inp, [0, 0], { measure: replay(0.4, () => 0.5, seen) });
    expect(seen).toEqual([[0, 0], [1, 1]]);
    expect(v.rounds[0]!.steps).toHaveLength(2);
    expect(v.met).toBe(true);
  });

  it('a p90 twice the budget with every frame served is not sized: one step per round', async () => {
    const seen: number[][] = [];
    const v = await verifyJoint(inp, [0, 0], { measure: replay(0.4, () => 1, seen, 1000) });
    expect(seen).toEqual([[0, 0], [1, 0], [1, 1]]);
    expect(shortfall(v.rounds[0]!)).toBe(1);
  });

  it('stops when nothing can step down, and after maxRounds', async () => {
    const never = await verifyJoint(inp, [2, 2], { measure: replay(0, () => 0.5, []) });
    expect(never.rounds).toHaveLength(1);
    expect(never.met).toBe(false);
    const bounded = await verifyJoint(inp, [0, 0], { maxRounds: 2, measure: replay(0, () => 0.99, []) });
    expect(bounded.rounds).toHaveLength(2);
    expect(bounded.met).toBe(false);
  });
});
