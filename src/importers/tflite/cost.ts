import { Op, convOptions, poolOptions, type TflModel } from './schema.js';

/**
 * Multiply-accumulates and parameters of a TFLite model's own graph at a square input size, counted from its
 * convolution shapes with the spatial sizes propagated as TFLite computes them (SAME: ceil(n / stride), VALID:
 * floor((n - dilated kernel) / stride) + 1). For models the zoo has no exact twin of (the SSD detector's full
 * 3x3 extra layers and 1x1 predictors are not the zoo's SSDLite head), so every rung gets its real cost.
 */
export function tfliteCost(m: TflModel, resolution: number): { macs: number; params: number } {
  const hw = new Map<number, [number, number]>();
  hw.set(m.inputs[0]!, [resolution, resolution]);
  let macs = 0;
  let params = 0;
  const size = (n: number, k: number, s: number, d: number, pad: 'same' | 'valid') => (pad === 'same' ? Math.ceil(n / s) : Math.floor((n - (k - 1) * d - 1) / s) + 1);
  for (const op of m.operators) {
    const inHw = hw.get(op.inputs[0]!);
    const out = op.outputs[0]!;
    switch (op.code) {
      case Op.CONV_2D:
      case Op.DEPTHWISE_CONV_2D: {
        const w = m.tensors[op.inputs[1]!]?.shape;
        if (!inHw || !w || w.length !== 4) break;
        const o = convOptions(m, op);
        const dw = op.code === Op.DEPTHWISE_CONV_2D;
        const [kh, kw] = [w[1]!, w[2]!];
        const outHw: [number, number] = [size(inHw[0], kh, o.strideH, o.dilationH, o.padding), size(inHw[1], kw, o.strideW, o.dilationW, o.padding)];
        hw.set(out, outHw);
        const outC = dw ? w[3]! : w[0]!;
        macs += outHw[0] * outHw[1] * outC * kh * kw * (dw ? 1 : w[3]!);
        params += w.reduce((a, b) => a * b, 1) + outC;
        break;
      }
      case Op.FULLY_CONNECTED: {
        const w = m.tensors[op.inputs[1]!]?.shape;
        if (w?.length === 2) {
          macs += w[0]! * w[1]!;
          params += w[0]! * w[1]! + w[0]!;
        }
        hw.set(out, [1, 1]);
        break;
      }
      case Op.AVERAGE_POOL_2D: {
        if (!inHw) break;
        const o = poolOptions(m, op);
        const inT = m.tensors[op.inputs[0]!]!;
        const global = o.filterH === inT.shape[1] && o.filterW === inT.shape[2];
        hw.set(out, global ? [1, 1] : [size(inHw[0], o.filterH, o.strideH, 1, o.padding), size(inHw[1], o.filterW, o.strideW, 1, o.padding)]);
        break;
      }
      case Op.ADD:
      case Op.QUANTIZE:
      case Op.DEQUANTIZE:
      case Op.LOGISTIC:
        if (inHw) hw.set(out, inHw);
        break;
      default:
        break;
    }
  }
  return { macs, params };
}
