import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildGraph } from '../../src/zoo/registry.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import { inputAsDequantize } from '../../src/quant/input-dq.js';
import { onnx } from '../../src/onnx/proto.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { testFrame } from '../helpers/tiny-model.js';

async function logits(bytes: Uint8Array, frame: Uint8Array, r: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', frame, [1, r, r, 3]) });
  const v = out[s.outputNames[0]!]!.data as Float32Array;
  await s.release();
  return v;
}

async function firstConv(model: ReturnType<typeof readOnnx>, tensor: string, frame: Uint8Array, r: number): Promise<{ data: Float32Array; dims: readonly number[] }> {
  model.graph!.output = [...model.graph!.output!, { name: tensor, type: { tensorType: { elemType: 1 } } }];
  const s = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', frame, [1, r, r, 3]) });
  const t = out[tensor]!;
  await s.release();
  return { data: t.data as Float32Array, dims: t.dims };
}

describe('pixels fed to the first conv as its quantized input', () => {
  const r = 64;
  const graph = buildGraph({ family: 'mobilenet_v1', alpha: 0.25, resolution: r, classes: 10, seed: 3 });

  for (const [name, normalize, tol] of [
    // p/255: the pixels are exactly the quantized input (zero point 0): no approximation at all
    ['p/255 (exact)', { scale: 1 / 255, offset: 0 }, 1e-5],
    // p/127.5 - 1: zero point 128, the 0.5-step difference folded into the bias: exact but where kernels overlap padding
    ['p/127.5 - 1 (offset folded into the bias)', { scale: 1 / 127.5, offset: -1 }, 2e-2],
  ] as const) {
    it(`removes the float normalization and keeps the outputs: ${name}`, async () => {
      const f = emitOnnx(graph, { input: 'uint8-nhwc', normalize, output: 'logits' });
      const rw = inputAsDequantize(readOnnx(f));
      expect(rw).toBeDefined();
      const ops = rw!.model.graph!.node!.map((n) => n.opType);
      expect(ops.slice(0, 3)).toEqual(['Transpose', 'DequantizeLinear', 'Conv']);
      expect(ops).not.toContain('Cast');
      // 127.5 (float32 scale) rounds to 127 or 128: either is exact once the difference is in the bias
      expect(normalize.offset === 0 ? [0] : [127, 128]).toContain(rw!.zeroPoint);
      const q = onnx.ModelProto.encode(rw!.model).finish();
      const frame = testFrame(r, 5);
      const [a, b] = [await logits(f, frame, r), await logits(q, frame, r)];
      const maxAbs = Math.max(...Array.from(a).map(Math.abs));
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
      expect(err / maxAbs).toBeLessThanOrEqual(tol);
      // the first conv's own output, away from the padded border, is exact: this is what the bias fold buys
      const conv = rw!.model.graph!.node!.find((n) => n.opType === 'Conv')!.output![0]!;
      const [fa, fb] = await Promise.all([firstConv(readOnnx(f), conv, frame, r), firstConv(rw!.model, conv, frame, r)]);
      expect(fa.dims).toEqual(fb.dims);
      const [, C, H, W] = fa.dims as [number, number, number, number];
      let inner = 0, scale = 0;
      for (let c = 0; c < C; c++) for (let y = 1; y < H - 1; y++) for (let x = 1; x < W - 1; x++) {
        const i = (c * H + y) * W + x;
        inner = Math.max(inner, Math.abs(fa.data[i]! - fb.data[i]!));
        scale = Math.max(scale, Math.abs(fa.data[i]!));
      }
      expect(inner / scale).toBeLessThanOrEqual(1e-5);
    });
  }

  it('leaves a model alone when the first op is not the pixel preprocessing', () => {
    const f = emitOnnx(graph, { input: 'float-nchw', output: 'logits' });
    expect(inputAsDequantize(readOnnx(f))).toBeUndefined();
  });
});
