import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { actParams } from '../../src/quant/qdq.js';
import { quantizeModel, checkIntegerKernels } from '../../src/quant/index.js';
import { quantizeFile } from '../../src/quant/file.js';
import { EdgefitError } from '../../src/util/errors.js';
import { sharedData } from '../../src/util/paths.js';

/** uint8 [1,8,8,3] -> conv 3x3 (BN after it) -> ReLU6 -> conv 1x1 -> GAP -> flatten -> Gemm: a tiny real model. */
function tinyModel(h = 8, w = h): Uint8Array {
  const b = new OnnxBuilder('tiny');
  const x = b.input('pixels', DataType.UINT8, [1, h, w, 3]);
  let t = b.op('Cast', [x], { to: DataType.FLOAT });
  t = b.op('Mul', [t, b.initializer('s', [], new Float32Array([1 / 255]))]);
  t = b.op('Transpose', [t], { perm: [0, 3, 1, 2] });
  const w1 = Float32Array.from({ length: 4 * 3 * 9 }, (_, i) => Math.sin(i * 1.7) * 0.5);
  t = b.op('Conv', [t, b.initializer('w1', [4, 3, 3, 3], w1)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'conv1');
  t = b.op('BatchNormalization', [t, b.initializer('g', [4], new Float32Array([1, 2, 0.5, 1])), b.initializer('be', [4], new Float32Array([0.1, -0.2, 0.3, 0])),
    b.initializer('m', [4], new Float32Array([0.05, 0, -0.1, 0.2])), b.initializer('v', [4], new Float32Array([1, 0.5, 2, 1]))], { epsilon: 1e-3 });
  t = b.op('Clip', [t, b.initializer('lo', [], new Float32Array([0])), b.initializer('hi', [], new Float32Array([6]))], {}, 'relu6');
  const w2 = Float32Array.from({ length: 8 * 4 }, (_, i) => Math.cos(i * 0.9));
  t = b.op('Conv', [t, b.initializer('w2', [8, 4, 1, 1], w2), b.initializer('b2', [8], new Float32Array(8).fill(0.1))], { kernel_shape: [1, 1] }, 'conv2');
  t = b.op('Relu', [t]);
  t = b.op('GlobalAveragePool', [t]);
  t = b.op('Flatten', [t], { axis: 1 });
  t = b.op('Gemm', [t, b.initializer('w3', [3, 8], Float32Array.from({ length: 24 }, (_, i) => Math.sin(i))), b.initializer('b3', [3], new Float32Array([0, 0.1, -0.1]))], { transB: 1 }, 'fc');
  t = b.op('Softmax', [t], { axis: 1 }, 'softmax', 'probabilities');
  b.output(t, DataType.FLOAT, [1, 3]);
  return b.toBytes();
}

describe('quantization parts', () => {
  it('activation parameters always represent 0 exactly and cover the range', () => {
    const p = actParams(-1, 3);
    expect(p.zeroPoint).toBe(Math.round(1 / (4 / 255)));
    expect(p.lo).toBeLessThanOrEqual(-0.99);
    expect(p.hi).toBeGreaterThanOrEqual(2.99);
    expect(actParams(0.5, 2).lo).toBe(0);
    expect(actParams(0, 6)).toMatchObject({ zeroPoint: 0, scale: 6 / 255 });
  });

  it('a small conv/BN/ReLU6/GAP/Gemm model quantizes to integer kernels close to its float outputs', async () => {
    const model = tinyModel();
    const frames = Array.from({ length: 4 }, (_, f) => Uint8Array.from({ length: 192 }, (_, i) => (i * 37 + f * 91) % 256));
    const q = await quantizeModel(model, { calib: frames, method: 'percentile', weightBits: 8, resolution: 8 });
    expect(q.report.foldedBatchNorms).toBe(1);
    expect(q.report.tensors.find((t) => t.name === 'relu6_out')).toMatchObject({ kind: 'clip', lo: 0 });
    expect(q.report.weights.map((w) => w.qmax)).toEqual([127, 127, 127]);
    const k = await checkIntegerKernels(q.onnx);
    expect(k.floatComputeNodes).toEqual([]);
    expect(k.ok).toBe(true);
    const run = async (bytes: Uint8Array) => {
      const s = await ort.InferenceSession.create(bytes);
      const o = await s.run({ pixels: new ort.Tensor('uint8', frames[0]!, [1, 8, 8, 3]) });
      await s.release();
      return Array.from(o['probabilities']!.data as Float32Array);
    };
    const [a, b] = [await run(model), await run(q.onnx)];
    a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(0.02));
  });

  it('refuses bad options with messages that say what to pass', async () => {
    const model = tinyModel();
    await expect(quantizeModel(model, { calib: [new Uint8Array(5)], method: 'minmax', weightBits: 8, resolution: 8 })).rejects.toThrow(/expected 8x8x3 = 192/);
    await expect(quantizeModel(model, { calib: [], method: 'minmax', weightBits: 8, resolution: 8 })).rejects.toThrow(/at least one frame/);
    await expect(quantizeModel(model, { calib: '/nonexistent-dir', method: 'minmax', weightBits: 8, resolution: 8 })).rejects.toThrow(/cannot read image folder/);
    await expect(quantizeModel(model, { calib: [], method: 'entropy' as 'minmax', weightBits: 8, resolution: 8 })).rejects.toThrow(/minmax, percentile or mse/);
    await expect(quantizeModel(model, { calib: [], method: 'minmax', weightBits: 6 as 8, resolution: 8 })).rejects.toThrow(/8 or 7/);
  });
});

describe('edgefit quantize (quantizeFile) and the model\'s input size', () => {
  const CALIB = join(sharedData, 'images/calib');
  const refusal = (p: Promise<unknown>): Promise<EdgefitError> => p.then(() => { throw new Error('accepted'); }, (err: unknown) => {
    expect(err, String(err)).toBeInstanceOf(EdgefitError);
    return err as EdgefitError;
  });

  it('a non-square input is refused before calibration with E_MODEL, telling the user to re-export it square; nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-quant-size-'));
    try {
      writeFileSync(join(dir, 'wide.onnx'), tinyModel(16, 24));
      const out = join(dir, 'out');
      const err = await refusal(quantizeFile(join(dir, 'wide.onnx'), { calibDir: CALIB, method: 'minmax', weights: 8, outDir: out }));
      expect(err.code).toBe('E_MODEL');
      expect(err.message).toMatch(/the input is 16x24 \(H x W\); edgefit quantizes square inputs only: re-export the model at a square size/);
      // --resolution does not make it square either
      expect((await refusal(quantizeFile(join(dir, 'wide.onnx'), { calibDir: CALIB, method: 'minmax', weights: 8, outDir: out, resolution: 16 }))).code).toBe('E_MODEL');
      expect(readdirSync(dir)).toEqual(['wide.onnx']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --resolution that contradicts a fixed square input is refused (E_OPTIONS); the model quantizes at its own size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-quant-size-'));
    try {
      writeFileSync(join(dir, 'sq.onnx'), tinyModel(16));
      const err = await refusal(quantizeFile(join(dir, 'sq.onnx'), { calibDir: CALIB, method: 'minmax', weights: 8, resolution: 24 }));
      expect(err.code).toBe('E_OPTIONS');
      expect(err.message).toMatch(/fixed input size 16; --resolution 24 would not fit it/);
      const r = await quantizeFile(join(dir, 'sq.onnx'), { calibDir: CALIB, method: 'minmax', weights: 8 });
      expect(r.report.kernels.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
