/**
 * Deterministic weights for zoo graphs that have no pretrained source. Each parameter gets its own stream,
 * seeded from (seed, parameter name), so the same seed gives byte-identical parameters on every machine, and
 * adding a layer does not change the weights of the others.
 */
import type { WeightSource } from './graph.js';

/** mulberry32: 32-bit state, full period, good enough for initialisation and fast in JS. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the UTF-16 code units, mixed with the seed. */
export function hashName(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // one extra round of the seed so seeds differing in high bits still spread
  h ^= Math.imul(seed >>> 0, 0x9e3779b1) >>> 0;
  return h >>> 0;
}

/** Fills `out` with N(0, std^2) samples (Box-Muller, both outputs used). */
export function fillNormal(out: Float32Array, std: number, rand: () => number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    // 1 - u keeps the log argument in (0, 1]
    const u1 = 1 - rand();
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1)) * std;
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/**
 * He (Kaiming) normal init, std sqrt(2/fanIn), for conv and dense weights; zero biases; BN at identity
 * (gamma 1, beta 0, mean 0, var 1).
 */
export function heInit(seed = 0): WeightSource {
  return (name, shape, role, fanIn) => {
    let n = 1;
    for (const d of shape) n *= d;
    const out = new Float32Array(n);
    switch (role) {
      case 'conv.weight':
      case 'dense.weight':
        return fillNormal(out, Math.sqrt(2 / Math.max(1, fanIn)), mulberry32(hashName(seed, name)));
      case 'bn.gamma':
      case 'bn.var':
        return out.fill(1);
      default:
        return out; // biases, bn.beta, bn.mean
    }
  };
}

/** All-zero parameters of the right shapes: for structure and cost questions, where values do not matter. */
export const zeroWeights: WeightSource = (_name, shape) => {
  let n = 1;
  for (const d of shape) n *= d;
  return new Float32Array(n);
};
