// Test-only: a plain, slow, obviously-correct NCHW evaluator for zoo Graphs (float64), and small graph helpers.
import { inferShapes, numel, outSize, type Graph, type Layer, type Param } from '../../src/zoo/graph.js';
import { mulberry32 } from '../../src/zoo/init.js';

export function rng(seed: number): () => number {
  return mulberry32(seed);
}

/** Fills every param a graph needs with seeded values; BN stats are kept non-trivial. */
export function fillParams(g: Graph, seed = 1): Graph {
  const r = rng(seed);
  const shapes = inferShapes({ ...g, params: new Map() });
  const params = new Map<string, Param>();
  const put = (k: string, shape: number[], f: () => number) => params.set(k, { shape, data: Float32Array.from({ length: numel(shape) }, f) });
  for (const l of g.layers) {
    const inS = shapes.get(l.inputs[0]!)!;
    if (l.op === 'conv') {
      const fan = (inS[0]! / l.group) * l.kernel[0] * l.kernel[1];
      const s = Math.sqrt(3 / fan);
      put(`${l.name}.weight`, [l.outChannels, inS[0]! / l.group, ...l.kernel], () => (r() * 2 - 1) * s);
      if (l.bias) put(`${l.name}.bias`, [l.outChannels], () => r() - 0.5);
    } else if (l.op === 'dense') {
      const fan = numel(inS);
      put(`${l.name}.weight`, [l.units, fan], () => (r() * 2 - 1) * Math.sqrt(3 / fan));
      if (l.bias) put(`${l.name}.bias`, [l.units], () => r() - 0.5);
    } else if (l.op === 'bn') {
      const c = inS[0]!;
      put(`${l.name}.gamma`, [c], () => 0.5 + r());
      put(`${l.name}.beta`, [c], () => r() - 0.5);
      put(`${l.name}.mean`, [c], () => r() - 0.5);
      put(`${l.name}.var`, [c], () => 0.2 + r());
    }
  }
  return { ...g, params };
}

export interface T { shape: number[]; data: Float64Array }

export function pixelsToInput(frame: Uint8Array, h: number, w: number, scale: number[], offset: number[]): T {
  const d = new Float64Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    d[(c * h + y) * w + x] = frame[(y * w + x) * 3 + c]! * scale[c]! + offset[c]!;
  }
  return { shape: [3, h, w], data: d };
}

/** Evaluates the graph on a [C,H,W] input; returns every tensor. */
export function evaluate(g: Graph, input: T): Map<string, T> {
  const env = new Map<string, T>([[g.input.name, input]]);
  const P = (k: string) => g.params.get(k)!.data;
  for (const l of g.layers) {
    const a = env.get(l.inputs[0]!)!;
    env.set(l.output, apply(l, a, l.inputs.map((n) => env.get(n)!), P));
  }
  return env;
}

function apply(l: Layer, a: T, all: T[], P: (k: string) => Float32Array): T {
  const [C, H, W] = a.shape as [number, number, number];
  switch (l.op) {
    case 'conv': {
      const oh = outSize(H, l.kernel[0], l.stride[0], l.pads[0], l.pads[2]);
      const ow = outSize(W, l.kernel[1], l.stride[1], l.pads[1], l.pads[3]);
      const O = l.outChannels, cg = C / l.group, og = O / l.group;
      const w = P(`${l.name}.weight`), b = l.bias ? P(`${l.name}.bias`) : undefined;
      const out = new Float64Array(O * oh * ow);
      for (let o = 0; o < O; o++) {
        const g0 = Math.floor(o / og) * cg;
        for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
          let s = b ? b[o]! : 0;
          for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < l.kernel[0]; ky++) for (let kx = 0; kx < l.kernel[1]; kx++) {
            const iy = y * l.stride[0] - l.pads[0] + ky, ix = x * l.stride[1] - l.pads[1] + kx;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            s += a.data[((g0 + ci) * H + iy) * W + ix]! * w[((o * cg + ci) * l.kernel[0] + ky) * l.kernel[1] + kx]!;
          }
          out[(o * oh + y) * ow + x] = s;
        }
      }
      return { shape: [O, oh, ow], data: out };
    }
    case 'bn': {
      const [g, be, m, v] = ['gamma', 'beta', 'mean', 'var'].map((r) => P(`${l.name}.${r}`));
      const hw = numel(a.shape.slice(1));
      return { shape: a.shape, data: a.data.map((x, i) => { const c = Math.floor(i / hw); return (x - m![c]!) / Math.sqrt(v![c]! + l.epsilon) * g![c]! + be![c]!; }) };
    }
    case 'relu': return { shape: a.shape, data: a.data.map((x) => Math.max(0, x)) };
    case 'relu6': return { shape: a.shape, data: a.data.map((x) => Math.min(6, Math.max(0, x))) };
    case 'add': return { shape: a.shape, data: a.data.map((x, i) => x + all[1]!.data[i]!) };
    case 'concat': {
      const d = new Float64Array(all.reduce((n, t) => n + t.data.length, 0));
      let off = 0;
      for (const t of all) { d.set(t.data, off); off += t.data.length; }
      return { shape: [all.reduce((n, t) => n + t.shape[0]!, 0), H, W], data: d };
    }
    case 'shuffle': {
      const d = new Float64Array(a.data.length), cpg = C / l.groups, hw = H * W;
      for (let i = 0; i < l.groups; i++) for (let j = 0; j < cpg; j++) d.set(a.data.subarray((i * cpg + j) * hw, (i * cpg + j + 1) * hw), (j * l.groups + i) * hw);
      return { shape: a.shape, data: d };
    }
    case 'maxpool':
    case 'avgpool': {
      const oh = outSize(H, l.kernel[0], l.stride[0], l.pads[0], l.pads[2], l.ceil);
      const ow = outSize(W, l.kernel[1], l.stride[1], l.pads[1], l.pads[3], l.ceil);
      const out = new Float64Array(C * oh * ow);
      for (let c = 0; c < C; c++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
        let m = -Infinity, s = 0, n = 0;
        for (let ky = 0; ky < l.kernel[0]; ky++) for (let kx = 0; kx < l.kernel[1]; kx++) {
          const iy = y * l.stride[0] - l.pads[0] + ky, ix = x * l.stride[1] - l.pads[1] + kx;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
          const v = a.data[(c * H + iy) * W + ix]!;
          m = Math.max(m, v); s += v; n++;
        }
        out[(c * oh + y) * ow + x] = l.op === 'maxpool' ? m : s / n;
      }
      return { shape: [C, oh, ow], data: out };
    }
    case 'gap': {
      const hw = H * W, d = new Float64Array(C);
      for (let c = 0; c < C; c++) { let s = 0; for (let i = 0; i < hw; i++) s += a.data[c * hw + i]!; d[c] = s / hw; }
      return { shape: [C, 1, 1], data: d };
    }
    case 'flatten': return { shape: [a.data.length], data: a.data };
    case 'dense': {
      const n = a.data.length, w = P(`${l.name}.weight`), b = l.bias ? P(`${l.name}.bias`) : undefined;
      const d = new Float64Array(l.units);
      for (let u = 0; u < l.units; u++) { let s = b ? b[u]! : 0; for (let i = 0; i < n; i++) s += a.data[i]! * w[u * n + i]!; d[u] = s; }
      return { shape: [l.units], data: d };
    }
    case 'softmax': {
      const m = Math.max(...a.data), e = a.data.map((x) => Math.exp(x - m)), s = e.reduce((p, q) => p + q, 0);
      return { shape: a.shape, data: e.map((x) => x / s) };
    }
    case 'ssd_output': {
      // per map: row, column, box; box b's values are channels b*width .. b*width+width-1 (TensorFlow's NHWC reshape)
      const maps = l.boxes.length, width = l.coords + l.classes, rows: number[] = [];
      for (let m = 0; m < maps; m++) {
        const bx = all[m]!, cl = all[maps + m]!, [, h, w] = bx.shape as [number, number, number];
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let j = 0; j < l.boxes[m]!; j++) {
          for (let k = 0; k < l.coords; k++) rows.push(bx.data[((j * l.coords + k) * h + y) * w + x]!);
          for (let k = 0; k < l.classes; k++) rows.push(1 / (1 + Math.exp(-cl.data[((j * l.classes + k) * h + y) * w + x]!)));
        }
      }
      return { shape: [rows.length / width, width], data: Float64Array.from(rows) };
    }
  }
}

/** max|a-b| / max|ref|: the relative error measure every cross-check in these tests uses. */
export function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) return Infinity;
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(got[i]! - ref[i]!)); m = Math.max(m, Math.abs(ref[i]!)); }
  return d / (m || 1);
}

export function seededFrame(h: number, w: number, seed = 7): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: h * w * 3 }, () => Math.floor(r() * 256));
}
