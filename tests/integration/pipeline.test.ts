import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pipeline, type InferenceResult } from '../../src/pipeline/pipeline.js';
import { EngineHost } from '../../src/engine/host.js';
import { SyntheticSource } from '../../src/camera/synthetic.js';
import { createFrameSource } from '../../src/camera/registry.js';
import { ResultFilter } from '../../src/pipeline/result-filter.js';
import { tinyClassifier } from '../helpers/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-pipe-'));
const m32 = join(dir, 'm32.onnx');
const m48 = join(dir, 'm48.onnx');
writeFileSync(m32, tinyClassifier({ resolution: 32 }));
writeFileSync(m48, tinyClassifier({ resolution: 48, width: 16 }));
const labels = Array.from({ length: 10 }, (_, i) => `label${i}`);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

async function collect(p: Pipeline, n: number, ms = 20_000): Promise<InferenceResult[]> {
  const out: InferenceResult[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${out.length} of ${n} results`)), ms);
    const on = (r: InferenceResult) => { out.push(r); if (out.length >= n) { clearTimeout(t); p.off('result', on); resolve(out); } };
    p.on('result', on);
  });
}

describe('Pipeline', () => {
  it('runs the newest frames through a worker engine, with labels and increasing frame seqs', async () => {
    const src = new SyntheticSource({ width: 32, height: 32, fps: 30, watchdogSeconds: 5, loop: true });
    await src.start();
    const engine = await EngineHost.start(m32, { providers: ['cpu'], threads: 1, timeoutMs: 10_000 });
    const p = new Pipeline({ source: src, model: { engine, variantId: 'm32', resolution: 32, labels }, topK: 3, scoreThreshold: 0 });
    cleanups.push(async () => { await p.stop(); await engine.close(); await src.stop(); });
    p.start();
    const rs = await collect(p, 10);
    for (let i = 1; i < rs.length; i++) expect(rs[i]!.frameSeq).toBeGreaterThan(rs[i - 1]!.frameSeq);
    expect(rs[0]!.top).toHaveLength(3);
    expect(rs[0]!.top[0]!.label).toMatch(/^label\d$/);
    expect(rs.every((r) => r.variantId === 'm32' && r.latencyMs >= r.inferMs - 1)).toBe(true);
    expect(p.latency.percentiles().n).toBeGreaterThanOrEqual(10);
  });

  it('a camera faster than inference: newest frame kept, the rest counted as dropped, memory bounded', async () => {
    const src = await createFrameSource('lavfi:testsrc2=size=320x240:rate=120', { width: 48, height: 48, fps: 120, watchdogSeconds: 5, loop: true });
    await src.start();
    const engine = await EngineHost.start(m48, { providers: ['cpu'], threads: 1 });
    // a slow consumer: 30 ms per frame on top of inference
    const slow = { ...engine, io: engine.io, provider: engine.provider, refused: engine.refused, name: 'slow', close: () => engine.close(),
      run: async (f: Uint8Array) => { const r = await engine.run(f); await new Promise((res) => setTimeout(res, 30)); return r; } };
    const p = new Pipeline({ source: src, model: { engine: slow, variantId: 'm48', resolution: 48, labels }, topK: 1, scoreThreshold: 0 });
    cleanups.push(async () => { await p.stop(); await engine.close(); await src.stop(); });
    p.start();
    await collect(p, 15);
    const bytes0 = src.stats().bufferBytes;
    await collect(p, 15);
    p.pause();
    await new Promise((r) => setTimeout(r, 100)); // the run in flight answers
    const st = src.stats();
    const ps = p.stats();
    // frames that arrived while the engine was busy were replaced by newer ones, in the ring or in the engine's slot
    expect(ps.superseded + st.dropped).toBeGreaterThan(ps.inferred);
    // every frame is accounted for: run, or dropped in one of the two places (give or take the one taken at pause)
    expect(Math.abs(st.framesIn - ps.inferred - ps.superseded - st.dropped)).toBeLessThanOrEqual(3);
    expect(st.bufferBytes).toBe(bytes0);
  });

  it('its camera stopped under it: the loop waits without holding the event loop, and goes on when the camera starts again', async () => {
    const src = new SyntheticSource({ width: 32, height: 32, fps: 30, watchdogSeconds: 5, loop: true });
    await src.start();
    const engine = await EngineHost.start(m32, { providers: ['cpu'], threads: 1 });
    const p = new Pipeline({ source: src, model: { engine, variantId: 'm32', resolution: 32, labels }, topK: 1, scoreThreshold: 0 });
    cleanups.push(async () => { await p.stop(); await engine.close(); await src.stop(); });
    p.start();
    await collect(p, 2);
    await src.stop();
    // a loop retrying a rejected next() without end would starve this timer (and the test would time out)
    await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setImmediate(r));
    await src.start();
    const again = await collect(p, 2);
    expect(again.every((r) => r.variantId === 'm32')).toBe(true);
  });

  it('pauses, resumes, and swaps to a model of another resolution between frames', async () => {
    const src = new SyntheticSource({ width: 32, height: 32, fps: 30, watchdogSeconds: 5, loop: true });
    await src.start();
    const e32 = await EngineHost.start(m32, { providers: ['cpu'], threads: 1 });
    const p = new Pipeline({ source: src, model: { engine: e32, variantId: 'm32', resolution: 32, labels }, topK: 1, scoreThreshold: 0 });
    cleanups.push(async () => { await p.stop(); await p.active.engine.close(); await src.stop(); });
    p.start();
    await collect(p, 3);
    p.pause();
    const n = p.stats().inferred;
    await new Promise((r) => setTimeout(r, 300));
    expect(p.stats().inferred).toBeLessThanOrEqual(n + 1);
    expect(p.stats().paused).toBe(true);
    p.resume();
    await collect(p, 3);
    const e48 = await EngineHost.start(m48, { providers: ['cpu'], threads: 1 });
    await src.reconfigure({ width: 48, height: 48 });
    const old = await p.swap({ engine: e48, variantId: 'm48', resolution: 48, labels });
    expect(old.variantId).toBe('m32');
    await old.engine.close();
    const after = await collect(p, 3);
    expect(after.every((r) => r.variantId === 'm48')).toBe(true);
    expect(p.stats().errors).toBe(0);
    // a model its task cannot read (a "detector" without its detection section) is refused with nothing changed
    const bad = { engine: e32, variantId: 'not-a-detector', resolution: 48, labels, task: 'detection' as const };
    expect(() => p.prepare(bad)).toThrow(/not a detector/);
    expect(() => p.swap(bad)).toThrow(/not a detector/);
    const still = await collect(p, 2);
    expect(still.every((r) => r.variantId === 'm48')).toBe(true);
  });
});

describe('ResultFilter', () => {
  const top = (index: number, score: number) => ({ top: [{ index, label: String(index), score }] });
  it('every / change / threshold / rate limit', () => {
    const every = new ResultFilter('every', 0, 0);
    expect([every.accept(top(1, 0.1), 0), every.accept(top(1, 0.1), 1)]).toEqual([true, true]);
    const change = new ResultFilter('change', 0, 0);
    expect([1, 1, 2, 2, 1].map((i, t) => change.accept(top(i, 0.5), t))).toEqual([true, false, true, false, true]);
    const thr = new ResultFilter('threshold', 0.6, 0);
    expect([0.5, 0.7, 0.59, 0.6].map((s, t) => thr.accept(top(1, s), t))).toEqual([false, true, false, true]);
    const rate = new ResultFilter('every', 0, 2); // at most 2 per second
    expect([0, 100, 499, 500, 900, 1000].map((t) => rate.accept(top(1, 1), t))).toEqual([true, false, false, true, false, true]);
  });
});
