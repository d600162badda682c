import { describe, it, expect } from 'vitest';
import { buildGraph } from '../../src/zoo/registry.js';
import { heInit, mulberry32 } from '../../src/zoo/init.js';
import type { Graph } from '../../src/zoo/graph.js';

function paramBytes(g: Graph): Buffer {
  return Buffer.concat([...g.params.entries()].flatMap(([k, p]) => [Buffer.from(k), Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)]));
}

describe('seeded He initialisation', () => {
  const opts = { family: 'mobilenet_v1', alpha: 0.25, resolution: 96 } as const;

  it('same seed gives byte-identical parameters; another seed differs', () => {
    const a = paramBytes(buildGraph({ ...opts, seed: 7 }));
    const b = paramBytes(buildGraph({ ...opts, seed: 7 }));
    const c = paramBytes(buildGraph({ ...opts, seed: 8 }));
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(c.length);
    expect(a.equals(c)).toBe(false);
  });

  it('a parameter does not depend on the other layers (per-name streams)', () => {
    const small = buildGraph({ ...opts, seed: 3, classes: 10 });
    const big = buildGraph({ ...opts, seed: 3, classes: 1000 });
    expect(Buffer.from(small.params.get('block5.pw.weight')!.data.buffer).equals(Buffer.from(big.params.get('block5.pw.weight')!.data.buffer))).toBe(true);
  });

  it('weights ~ N(0, 2/fanIn), zero biases, BN at identity', () => {
    const g = buildGraph({ ...opts, seed: 1 });
    const w = g.params.get('block13.pw.weight')!; // alpha 0.25: 256 -> 256, fanIn 256
    let sum = 0;
    let sq = 0;
    for (const v of w.data) { sum += v; sq += v * v; }
    const n = w.data.length;
    const std = Math.sqrt(sq / n - (sum / n) ** 2);
    expect(Math.abs(sum / n)).toBeLessThan(0.005);
    expect(Math.abs(std / Math.sqrt(2 / 256) - 1)).toBeLessThan(0.02);
    const dw = g.params.get('block1.dw.weight')!; // fanIn 9
    const dstd = Math.sqrt(dw.data.reduce((t, v) => t + v * v, 0) / dw.data.length);
    expect(dstd).toBeGreaterThan(0.25);
    expect(dstd).toBeLessThan(0.7);
    expect(g.params.get('classifier.bias')!.data.every((v) => v === 0)).toBe(true);
    expect(g.params.get('conv1.bn.gamma')!.data.every((v) => v === 1)).toBe(true);
    expect(g.params.get('conv1.bn.var')!.data.every((v) => v === 1)).toBe(true);
    expect(g.params.get('conv1.bn.beta')!.data.every((v) => v === 0)).toBe(true);
    expect(g.params.get('conv1.bn.mean')!.data.every((v) => v === 0)).toBe(true);
  });

  it('mulberry32 is uniform in [0, 1) and reproducible', () => {
    const r = mulberry32(42);
    const xs = Array.from({ length: 20000 }, () => r());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length - 0.5)).toBeLessThan(0.01);
    expect(mulberry32(42)()).toBe(xs[0]);
    expect(heInit(0)('x.weight', [3], 'conv.weight', 1)).toEqual(heInit(0)('x.weight', [3], 'conv.weight', 1));
  });

  it('uses a supplied WeightSource and checks what it returns', () => {
    const seen: string[] = [];
    const g = buildGraph({ ...opts, weights: (name, shape, role, fanIn) => {
      seen.push(`${name}:${role}:${fanIn}`);
      return new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5);
    } });
    expect(seen).toContain('conv1.weight:conv.weight:27');
    expect(seen).toContain('block1.dw.weight:conv.weight:9');
    expect(seen).toContain('block1.pw.bn.gamma:bn.gamma:16');
    expect(g.params.get('block1.pw.weight')!.data[0]).toBe(0.5);
    expect(() => buildGraph({ ...opts, weights: () => new Float32Array(1) })).toThrow(/expected \[8,3,3,3\] = 216 values/);
  });
});
