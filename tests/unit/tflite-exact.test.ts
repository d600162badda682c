import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { parseTflite, Op, tensorInts } from '../../src/importers/tflite/schema.js';
import { convWeights } from '../../src/importers/tflite/weights.js';
import { tflitePath } from './tflite-helpers.js';

/**
 * One real 1x1 conv layer, run by onnxruntime in QDQ form, against an exact integer computation
 * (int32 accumulation, then one rounding). onnxruntime's x64 u8s8 kernels without VNNI saturate int16 pair sums
 * with full-range int8 weights; u8u8 (QAT uint8 weights, or int8 weights stored as uint8 + 128) must be exact
 * up to the final rounding (|diff| <= 1).
 */
async function layerCheck(model: string, pick: (i: number) => boolean, shiftToU8: boolean | null): Promise<{ maxDiff: number; off: number; n: number }> {
  const m = parseTflite(readFileSync(tflitePath(model)), model);
  const op = m.operators.filter((o) => o.code === Op.CONV_2D && m.tensors[o.inputs[1]!]!.shape[1] === 1).find((_, i) => pick(i))!;
  const [xT, wT, bT, yT] = [m.tensors[op.inputs[0]!]!, m.tensors[op.inputs[1]!]!, m.tensors[op.inputs[2]!]!, m.tensors[op.outputs[0]!]!];
  const w = convWeights(wT);
  const [O, K] = [w.dims[0], w.dims[1]];
  const s8 = xT.typeName === 'int8';
  const xs = xT.quant!.scale[0]!, xz = xT.quant!.zeroPoint[0]!, ys = yT.quant!.scale[0]!, yz = yT.quant!.zeroPoint[0]!;
  const H = 6;
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const xq = Array.from({ length: K * H * H }, () => Math.floor(rnd() * 256) - (s8 ? 128 : 0));
  const bias = tensorInts(bT) as Int32Array;
  const wsOf = (o: number) => (w.scale.length === 1 ? w.scale[0]! : w.scale[o]!);
  const wzOf = (o: number) => (w.zeroPoint.length === 1 ? w.zeroPoint[0]! : w.zeroPoint[o]!);

  const b = new OnnxBuilder('layer');
  const x = b.input('x', s8 ? DataType.INT8 : DataType.UINT8, [1, K, H, H]);
  const sc = (v: number) => b.initializer('s', [], new Float32Array([v]));
  const zp = (v: number, signed: boolean) => b.initializer('z', [], signed ? new Int8Array([v]) : new Uint8Array([v]));
  let wData = w.data as Int8Array | Uint8Array;
  let wz = w.zeroPoint;
  if (shiftToU8 && wData instanceof Int8Array) { wData = Uint8Array.from(wData, (v) => v + 128); wz = wz.map((z) => z + 128); }
  const wSigned = wData instanceof Int8Array;
  const per = w.scale.length > 1;
  const wdq = b.op('DequantizeLinear', [
    b.initializer('w', w.dims, wData),
    per ? b.initializer('ws', [O], Float32Array.from(w.scale)) : sc(w.scale[0]!),
    per ? b.initializer('wz', [O], wSigned ? Int8Array.from(wz) : Uint8Array.from(wz)) : zp(wz[0]!, wSigned),
  ], per ? { axis: 0 } : {});
  const bs = Float32Array.from({ length: O }, (_, o) => xs * wsOf(o));
  const bdq = b.op('DequantizeLinear', [b.initializer('b', [O], bias), b.initializer('bs', [O], bs), b.initializer('bz', [O], new Int32Array(O))], { axis: 0 });
  const conv = b.op('Conv', [b.op('DequantizeLinear', [x, sc(xs), zp(xz, s8)]), wdq, bdq], { kernel_shape: [1, 1] });
  const y = b.op('QuantizeLinear', [conv, sc(ys), zp(yz, s8)]);
  b.output(y, s8 ? DataType.INT8 : DataType.UINT8, [1, O, H, H]);
  const session = await ort.InferenceSession.create(b.toBytes(), { logSeverityLevel: 3 });
  const feed = s8 ? new Int8Array(xq) : new Uint8Array(xq);
  const got = (await session.run({ x: new ort.Tensor(s8 ? 'int8' : 'uint8', feed, [1, K, H, H]) }))[y]!.data as Int8Array | Uint8Array;
  await session.release();

  const [qmin, qmax] = s8 ? [-128, 127] : [0, 255];
  let maxDiff = 0;
  let off = 0;
  for (let o = 0; o < O; o++) for (let p = 0; p < H * H; p++) {
    let acc = bias[o]!;
    for (let k = 0; k < K; k++) acc += (xq[k * H * H + p]! - xz) * ((w.data[o * K + k] as number) - wzOf(o));
    const exact = Math.min(qmax, Math.max(qmin, Math.round(acc * ((xs * wsOf(o)) / ys)) + yz));
    const d = Math.abs(got[o * H * H + p]! - exact);
    maxDiff = Math.max(maxDiff, d);
    if (d > 1) off++;
  }
  return { maxDiff, off, n: O * H * H };
}

describe('integer exactness of onnxruntime on imported layers', () => {
  it('QAT uint8 weights (u8u8): exact up to the final rounding', async () => {
    const r = await layerCheck('mobilenet_v2_1.0_224_quant.tflite', (i) => i === 30, null);
    console.log(`u8 activations x u8 weights: max |diff| ${r.maxDiff}, ${r.off}/${r.n} outputs off by more than 1`);
    expect(r.maxDiff).toBeLessThanOrEqual(1);
  });

  it('int8 per-channel weights stored as uint8 + 128 (the default QDQ emission): exact up to the final rounding', async () => {
    const shifted = await layerCheck('tf2_mobilenet_v2_1.0_224_ptq.tflite', (i) => i === 30, true);
    const asIs = await layerCheck('tf2_mobilenet_v2_1.0_224_ptq.tflite', (i) => i === 30, false);
    console.log(`int8 weights as uint8+128: max |diff| ${shifted.maxDiff}; as int8 (u8s8/s8s8 kernels): max |diff| ${asIs.maxDiff}, ${asIs.off}/${asIs.n} outputs off by more than 1`);
    expect(shifted.maxDiff).toBeLessThanOrEqual(1);
  });
});
