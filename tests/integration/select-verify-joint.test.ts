import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGraph } from '../../src/zoo/registry.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import { chooseJoint } from '../../src/select/joint-explain.js';
import { verifyJoint } from '../../src/select/verify-joint.js';
import type { JointInput, JointOption } from '../../src/select/joint.js';
import { measureSlowdown } from '../../src/profile/concurrency.js';

let dir: string;
let big: string, small: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefit-joint-'));
  const zoo = (alpha: number, resolution: number) => {
    const p = join(dir, `mobilenet_v1-${alpha}-${resolution}.onnx`);
    writeFileSync(p, emitOnnx(buildGraph({ family: 'mobilenet_v1', alpha, resolution, classes: 10, seed: 0 }), { input: 'uint8-nhwc' }));
    return p;
  };
  big = zoo(0.5, 128);
  small = zoo(0.25, 96);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two real zoo models; the times are what the caller claims (a profile would give them). */
function ladder(claim: { bigMs: number; smallMs: number }): JointOption[] {
  return [
    { id: 'v1-0.5-128', model: 'big', threads: 1, timeMs: claim.bigMs, p90Ms: claim.bigMs * 1.2, memoryMb: 20, accuracy: 0.55, macs: 50e6, modelPath: big, resolution: 128 },
    { id: 'v1-0.25-96', model: 'small', threads: 1, timeMs: claim.smallMs, p90Ms: claim.smallMs * 1.2, memoryMb: 8, accuracy: 0.4, macs: 8e6, modelPath: small, resolution: 96 },
  ];
}

describe('verifyJoint: the chosen set run concurrently through the fair queue on real onnxruntime sessions', () => {
  it('a generous budget: the chosen set is measured once and met, with per-camera fps, p90 and load gap', async () => {
    const inp: JointInput = {
      cameras: [{ id: 'door', fps: 4, budgetMs: 3000, priority: 1 }, { id: 'yard', fps: 4, budgetMs: 3000, priority: 0 }],
      options: { door: ladder({ bigMs: 20, smallMs: 5 }), yard: ladder({ bigMs: 20, smallMs: 5 }) },
      board: { cores: 2, slowdown: 0.9 },
    };
    const d = chooseJoint(inp);
    expect(d.feasible).toBe(true);
    expect(d.cameras.map((c) => c.option.id)).toEqual(['v1-0.5-128', 'v1-0.5-128']);
    const v = await verifyJoint(inp, d.assignment, { windowMs: 2000, warmupMs: 300 });
    expect(v.met).toBe(true);
    expect(v.rounds).toHaveLength(1);
    expect(v.assignment).toEqual(d.assignment);
    const r = v.rounds[0]!;
    expect(r.slots).toBe(2);
    for (const c of r.cameras) {
      expect(c.errors).toBe(0);
      expect(c.processed).toBeGreaterThan(0);
      expect(c.served).toBeGreaterThanOrEqual(0.9);
      expect(c.p90Ms).toBeLessThanOrEqual(3000);
      expect(Number.isFinite(c.runGap)).toBe(true);
      expect(c.misses).toEqual([]);
    }
    expect(r.predictedLoad).toBeCloseTo(2 * (4 * 20) / 1000, 9);
    expect(Number.isFinite(r.loadGap)).toBe(true);
    // both cameras run one model: one session, its memory counted once
    expect(r.predictedMemoryMb).toBe(20);
    expect(Number.isFinite(r.rssGrowthMb)).toBe(true);
  });

  it('an impossible budget the model believed: steps down the cheapest losses, lower priority first, until nothing is left', async () => {
    // the claimed times are absurdly optimistic (0.4 microseconds), so the model says every set fits a p90 budget
    // of 1 microsecond; any real run misses it
    const claim = { bigMs: 0.0004, smallMs: 0.0002 };
    const inp: JointInput = {
      cameras: [{ id: 'door', fps: 5, budgetMs: 0.001, priority: 1 }, { id: 'yard', fps: 5, budgetMs: 0.001, priority: 0 }],
      options: { door: ladder(claim), yard: ladder(claim) },
      board: { cores: 2, slowdown: 1 },
    };
    const d = chooseJoint(inp);
    expect(d.feasible).toBe(true);
    expect(d.assignment).toEqual([0, 0]);
    const lines: string[] = [];
    const v = await verifyJoint(inp, d.assignment, { windowMs: 600, warmupMs: 200, log: (l) => lines.push(l) });
    expect(v.met).toBe(false);
    // every frame served, only the p90 missed: one step per round, the lower-priority camera first
    expect(v.rounds.map((r) => r.assignment)).toEqual([[0, 0], [0, 1], [1, 1]]);
    expect(v.rounds[0]!.steps?.map((x) => x.reason)).toEqual(['yard steps down v1-0.5-128 -> v1-0.25-96 (priority 0, loses 15.0 accuracy points, frees 0.00 cores)']);
    expect(v.rounds[1]!.steps?.[0]?.reason).toMatch(/^door steps down v1-0.5-128 -> v1-0.25-96 \(priority 1/);
    expect(v.rounds[2]!.steps).toBeUndefined();
    // the premise of one step per round: 5 fps is nothing for these models, every frame is answered
    for (const r of v.rounds) for (const c of r.cameras) expect(c.served).toBe(1);
    expect(v.assignment).toEqual([1, 1]);
    for (const r of v.rounds) {
      expect(r.met).toBe(false);
      for (const c of r.cameras) expect(c.misses.join()).toMatch(/p90 .* over its budget of 0.001 ms/);
    }
    expect(lines.filter((l) => l.includes('steps down'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('joint: missed'))).toHaveLength(3);
  });

  it('maxRounds bounds the loop', async () => {
    const claim = { bigMs: 0.0004, smallMs: 0.0002 };
    const inp: JointInput = {
      cameras: [{ id: 'a', fps: 5, budgetMs: 0.001, priority: 0 }],
      options: { a: ladder(claim) },
      board: { cores: 2, slowdown: 1 },
    };
    const v = await verifyJoint(inp, [0], { windowMs: 300, warmupMs: 100, maxRounds: 1 });
    expect(v.rounds).toHaveLength(1);
    expect(v.assignment).toEqual([0]);
  });

  it('measureSlowdown gives a factor in (0, 1] from real concurrent sessions', async () => {
    const frame = new Uint8Array(96 * 96 * 3).fill(100);
    const s = await measureSlowdown(small, { streams: 2, durationMs: 800, rounds: 2, frame });
    expect(s.ratios).toHaveLength(2);
    expect(s.factor).toBeGreaterThan(0);
    expect(s.factor).toBeLessThanOrEqual(1);
    expect(s.aloneFps).toBeGreaterThan(0);
    expect(s.togetherFps).toBeGreaterThan(0);
  });
});
