import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import type { BenchContext, SectionResult } from './context.js';
import { isConvOp, profileOps } from './opprofile.js';
import { fmt, fmtRange, table } from './stats.js';

interface Shape { what: string; channels: number; out?: number; size: number; kernel: 1 | 3; stride: 1 | 2 }

/** Every depthwise and pointwise conv shape of the person detector (MobileNet-v1 0.25 at 96 px; its stem aside), and one wide depthwise conv for the channel count. */
const SHAPES: Shape[] = [
  { what: 'depthwise 3x3', channels: 16, size: 48, kernel: 3, stride: 1 },
  { what: 'depthwise 3x3 /2', channels: 16, size: 48, kernel: 3, stride: 2 },
  { what: 'depthwise 3x3', channels: 32, size: 24, kernel: 3, stride: 1 },
  { what: 'depthwise 3x3 /2', channels: 32, size: 24, kernel: 3, stride: 2 },
  { what: 'depthwise 3x3', channels: 64, size: 12, kernel: 3, stride: 1 },
  { what: 'depthwise 3x3 /2', channels: 64, size: 12, kernel: 3, stride: 2 },
  { what: 'depthwise 3x3', channels: 128, size: 6, kernel: 3, stride: 1 },
  { what: 'depthwise 3x3', channels: 256, size: 3, kernel: 3, stride: 1 },
  { what: 'depthwise 3x3', channels: 64, size: 48, kernel: 3, stride: 1 },
  { what: 'pointwise 1x1', channels: 8, out: 16, size: 48, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 16, out: 32, size: 24, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 32, out: 32, size: 24, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 32, out: 64, size: 12, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 64, out: 64, size: 12, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 64, out: 128, size: 6, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 128, out: 128, size: 6, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 128, out: 256, size: 3, kernel: 1, stride: 1 },
  { what: 'pointwise 1x1', channels: 256, out: 256, size: 3, kernel: 1, stride: 1 },
];

/**
 * One conv alone on uint8 NCHW input, as int8 (QLinearConv with zero-point-0 int8 per-channel weights: the
 * symmetric kernels the device forms aim for) or as fp32 (DequantizeLinear -> Conv: onnxruntime's NCHWc kernels).
 */
function convModel(s: Shape, int8: boolean): Uint8Array {
  const b = new OnnxBuilder('kernel', 13);
  const cout = s.out ?? s.channels;
  const group = s.out ? 1 : s.channels;
  const x = b.input('x', DataType.UINT8, [1, s.channels, s.size, s.size]);
  const n = cout * (s.channels / group) * s.kernel * s.kernel;
  const pad = s.kernel >> 1;
  const yDims = [1, cout, s.size / s.stride, s.size / s.stride];
  const attrs = { kernel_shape: [s.kernel, s.kernel], strides: [s.stride, s.stride], pads: [pad, pad, pad, pad], group };
  const xs = b.initializer('xs', [], new Float32Array([0.02]));
  const xz = b.initializer('xz', [], new Uint8Array([3]));
  const wDims = [cout, s.channels / group, s.kernel, s.kernel];
  const wq = Int8Array.from({ length: n }, (_, i) => ((i * 7919) % 201) - 100);
  const wScale = 0.002;
  if (int8) {
    const w = b.initializer('w', wDims, wq);
    const ws = b.initializer('ws', [cout], new Float32Array(cout).fill(wScale));
    const wz = b.initializer('wz', [cout], new Int8Array(cout));
    const ys = b.initializer('ys', [], new Float32Array([0.05]));
    const yz = b.initializer('yz', [], new Uint8Array([0]));
    const bias = b.initializer('bias', [cout], Int32Array.from({ length: cout }, (_, i) => i * 10));
    b.node('QLinearConv', [x, xs, xz, w, ws, wz, ys, yz, bias], ['y'], attrs, 'conv');
    b.output('y', DataType.UINT8, yDims);
  } else {
    const xf = b.op('DequantizeLinear', [x, xs, xz]);
    // the int8 arm's weights, dequantized
    const w = b.initializer('w', wDims, Float32Array.from(wq, (v) => v * wScale));
    const bias = b.initializer('bias', [cout], Float32Array.from({ length: cout }, (_, i) => i * 0.001));
    const y = b.op('Conv', [xf, w, bias], attrs, 'conv');
    b.node('Relu', [y], ['y'], {}, 'relu');
    b.output('y', DataType.FLOAT, yDims);
  }
  return b.toBytes();
}

/**
 * Single convs, int8 against fp32, at one intra-op thread (onnxruntime's profiler, the conv node alone): where an
 * int8 model of narrow, high-resolution depthwise convs (the person detector at 96 px) loses to its fp32 twin.
 */
export async function kernelsSection(ctx: BenchContext): Promise<SectionResult> {
  const runs = ctx.quick ? 50 : 400;
  const rows: string[][] = [];
  const data: unknown[] = [];
  const ratios = { depthwise: [] as number[], pointwise: [] as number[] };
  for (const s of SHAPES) {
    const dims = [1, s.channels, s.size, s.size];
    const frame = Uint8Array.from({ length: s.channels * s.size * s.size }, (_, i) => (i * 37) % 251);
    const us: Record<string, number> = {};
    for (const [k, int8] of [['int8', true], ['fp32', false]] as const) {
      const events = await profileOps(convModel(s, int8), frame, runs, { dims });
      // the conv alone: not the layout Transpose/Reorder nodes onnxruntime puts around it, nor the fp32 Dequantize
      us[k] = events.filter((e) => isConvOp(e.op)).reduce((a, e) => a + e.us, 0);
    }
    const outPx = (s.size / s.stride) ** 2;
    ratios[s.out ? 'pointwise' : 'depthwise'].push(us.int8! / us.fp32!);
    ctx.log(`kernels: ${s.what} ${s.channels}ch ${s.size}x${s.size}: int8 ${fmt(us.int8, 1)} us, fp32 ${fmt(us.fp32, 1)} us`);
    rows.push([s.what, `${s.channels}${s.out ? `->${s.out}` : ''}`, `${s.size}x${s.size}`, fmt(us.int8, 1), fmt(us.fp32, 1), fmt(us.int8! / us.fp32!, 2), fmt((us.int8! * 1000) / outPx, 1)]);
    data.push({ ...s, int8Us: us.int8, fp32Us: us.fp32, outputPixels: outPx });
  }
  return {
    name: 'kernels',
    title: 'Single convs, int8 (symmetric u8s8 kernels) vs fp32 (NCHWc kernels), us per run, 1 thread',
    table: table(['conv', 'channels', 'input', 'int8', 'fp32', 'int8/fp32', 'int8 ns/output px'], rows),
    targets: [],
    notes: [
      `onnxruntime's profiler, the conv node alone (${runs} runs after one warm-up); shapes of the person detector (MobileNet-v1 0.25, 96 px) plus one 64-channel depthwise conv at 48x48.`,
      `int8/fp32: depthwise ${fmtRange(ratios.depthwise, 2, 'x')}, pointwise ${fmtRange(ratios.pointwise, 2, 'x')}. A model whose time is mostly depthwise convs at high resolution (\`--only imported\` prints each missed rung's split by role) gains from int8 only in its pointwise convs.`,
    ],
    data,
  };
}
