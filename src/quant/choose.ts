import { quantizeModel, type QuantizeOptions, type WeightBits, type QuantReport } from './quantize.js';
import { resolveFrames } from './frames.js';
import { runFrames, cosine } from './fidelity.js';

export interface WeightBitsChoice {
  weightBits: WeightBits;
  depthwiseBits: WeightBits;
  onnx: Uint8Array;
  report: QuantReport;
  /** every candidate measured on this device: mean/min output cosine and top-1 agreement with the float model */
  candidates: Array<{ weightBits: WeightBits; depthwiseBits: WeightBits; meanCosine: number; minCosine: number; agree: number; frames: number }>;
}

/**
 * Quantizes with 8-bit, 7-bit and 7-bit-with-8-bit-depthwise weights, runs each on THIS machine's onnxruntime
 * kernels next to the float model, and keeps the most faithful. Whether 8-bit weights saturate depends on the
 * CPU's int8 instructions (x86 without VNNI does, arm64 does not), so it is measured, never assumed.
 * `evalFrames` default to the calibration frames.
 */
export async function chooseWeightBits(floatOnnx: Uint8Array, opts: Omit<QuantizeOptions, 'weightBits' | 'depthwiseBits'>, evalFrames?: Uint8Array[] | string): Promise<WeightBitsChoice> {
  const frames = await resolveFrames(evalFrames ?? opts.calib, opts.resolution);
  const calib = await resolveFrames(opts.calib, opts.resolution);
  const ref = await runFrames(floatOnnx, frames, opts.resolution);
  const configs: Array<[WeightBits, WeightBits]> = [[8, 8], [7, 7], [7, 8]];
  let best: WeightBitsChoice | undefined;
  const candidates: WeightBitsChoice['candidates'] = [];
  let bestScore = -Infinity;
  for (const [w, dw] of configs) {
    const q = await quantizeModel(floatOnnx, { ...opts, calib, weightBits: w, depthwiseBits: dw });
    const out = await runFrames(q.onnx, frames, opts.resolution);
    const cos = out.map((o, i) => cosine(o.out, ref[i]!.out));
    const agree = out.filter((o, i) => argmax(o.out) === argmax(ref[i]!.out)).length;
    const c = { weightBits: w, depthwiseBits: dw, meanCosine: cos.reduce((a, b) => a + b, 0) / cos.length, minCosine: Math.min(...cos), agree, frames: frames.length };
    candidates.push(c);
    // agreement first, then how close the outputs are; ties keep the earlier (wider) candidate
    const score = agree * 10 + c.meanCosine;
    if (score > bestScore) {
      bestScore = score;
      best = { weightBits: w, depthwiseBits: dw, onnx: q.onnx, report: q.report, candidates };
    }
  }
  return { ...best!, candidates };
}

function argmax(a: Float32Array): number {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[k]!) k = i;
  return k;
}
