import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { readOnnx, tensorValues } from '../../src/onnx/reader.js';
import { DataType } from '../../src/onnx/proto.js';

describe('OnnxBuilder', () => {
  it('writes a model onnxruntime runs, and reads it back', async () => {
    const b = new OnnxBuilder('t');
    const x = b.input('x', DataType.FLOAT, [1, 2, 3, 3]);
    const w = b.initializer('w', [1, 2, 1, 1], new Float32Array([2, -1]));
    const y = b.op('Conv', [x, w], { kernel_shape: [1, 1] });
    b.output(y, DataType.FLOAT, [1, 1, 3, 3]);
    const bytes = b.toBytes();
    const s = await ort.InferenceSession.create(bytes);
    const input = new Float32Array(18).map((_, i) => i);
    const out = await s.run({ x: new ort.Tensor('float32', input, [1, 2, 3, 3]) });
    const r = out[y]!.data as Float32Array;
    expect(Array.from(r)).toEqual(Array.from({ length: 9 }, (_, i) => 2 * i - (i + 9)));
    const m = readOnnx(bytes);
    expect(Array.from(tensorValues(m.graph!.initializer![0]!) as Float32Array)).toEqual([2, -1]);
    await s.release();
  });
});
