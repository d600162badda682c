import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';

/**
 * A small real classifier for engine tests: uint8 NHWC pixels -> conv 3x3/2 -> relu6 -> global average pool ->
 * dense -> softmax. Deterministic weights; `width` grows the cost (a family chain for profiler tests).
 * symbolicHW leaves H and W open, like the imported GAP models.
 */
export function tinyClassifier(opts: { resolution?: number; width?: number; classes?: number; symbolicHW?: boolean } = {}): Uint8Array {
  const res = opts.resolution ?? 32;
  const width = opts.width ?? 8;
  const classes = opts.classes ?? 10;
  const b = new OnnxBuilder('tiny');
  const hw: (number | string)[] = opts.symbolicHW ? ['H', 'W'] : [res, res];
  const x = b.input('pixels', DataType.UINT8, [1, hw[0]!, hw[1]!, 3]);
  const f = b.op('Cast', [x], { to: 1 });
  const nchw = b.op('Transpose', [f], { perm: [0, 3, 1, 2] });
  const scaled = b.op('Mul', [nchw, b.initializer('scale', [], new Float32Array([1 / 127.5]))]);
  const norm = b.op('Sub', [scaled, b.initializer('one', [], new Float32Array([1]))]);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const w1 = new Float32Array(width * 3 * 9).map(() => rnd() * 0.5);
  const c1 = b.op('Conv', [norm, b.initializer('w1', [width, 3, 3, 3], w1)], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let h = b.op('Clip', [c1, b.initializer('lo', [], new Float32Array([0])), b.initializer('hi', [], new Float32Array([6]))]);
  // extra 3x3 convs make wider variants measurably slower
  for (let i = 0; i < 2; i++) {
    const w = new Float32Array(width * width * 9).map(() => rnd() * (1 / Math.sqrt(width * 9)));
    h = b.op('Conv', [h, b.initializer(`w${i + 2}`, [width, width, 3, 3], w)], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    h = b.op('Relu', [h]);
  }
  const g = b.op('GlobalAveragePool', [h]);
  const flat = b.op('Flatten', [g]);
  const wd = new Float32Array(classes * width).map(() => rnd());
  const logits = b.op('Gemm', [flat, b.initializer('wd', [classes, width], wd)], { transB: 1 });
  const probs = b.op('Softmax', [logits], { axis: 1 }, 'softmax', 'probabilities');
  b.output(probs, DataType.FLOAT, [1, classes]);
  return b.toBytes();
}

/** A deterministic uint8 RGB frame. */
export function testFrame(resolution: number, salt = 0): Uint8Array {
  const f = new Uint8Array(resolution * resolution * 3);
  for (let i = 0; i < f.length; i++) f[i] = (i * 31 + salt * 17 + (i >> 7)) & 0xff;
  return f;
}
