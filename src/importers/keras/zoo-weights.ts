import { EdgefitError } from '../../util/errors.js';
import type { WeightRole, WeightSource } from '../../zoo/graph.js';
import type { KerasWeights } from './h5.js';

/** zoo parameter name -> [Keras layer, Keras variable], for Keras Applications MobileNet (v1). */
export function mobileNetV1KerasName(param: string): [string, string] | undefined {
  const dot = param.lastIndexOf('.');
  const layer = param.slice(0, dot);
  const role = param.slice(dot + 1);
  const bnVar: Record<string, string> = { gamma: 'gamma', beta: 'beta', mean: 'moving_mean', var: 'moving_variance' };
  let m: RegExpExecArray | null;
  const conv = (kl: string, dw: boolean): [string, string] | undefined =>
    role === 'weight' ? [kl, dw ? 'depthwise_kernel' : 'kernel'] : role === 'bias' ? [kl, 'bias'] : undefined;
  if (layer === 'conv1') return conv('conv1', false);
  if (layer === 'conv1.bn') return bnVar[role] ? ['conv1_bn', bnVar[role]!] : undefined;
  if ((m = /^block(\d+)\.(dw|pw)$/.exec(layer))) return conv(`conv_${m[2]}_${m[1]}`, m[2] === 'dw');
  if ((m = /^block(\d+)\.(dw|pw)\.bn$/.exec(layer))) return bnVar[role] ? [`conv_${m[2]}_${m[1]}_bn`, bnVar[role]!] : undefined;
  if (layer === 'classifier') return conv('conv_preds', false);
  return undefined;
}

/**
 * A zoo WeightSource that serves a Keras model's real weights, converted to the zoo's layouts (conv OIHW,
 * depthwise [C, 1, kh, kw], dense [units, in]). Throws naming the parameter when the Keras file lacks it or the
 * shapes disagree: that is an architecture mismatch between the zoo builder and the model.
 */
export function kerasWeightSource(weights: KerasWeights, nameOf: (param: string) => [string, string] | undefined = mobileNetV1KerasName): WeightSource {
  return (param: string, shape: number[], role: WeightRole): Float32Array => {
    const k = nameOf(param);
    const v = k ? weights.get(k[0])?.get(k[1]) : undefined;
    if (!k || !v) throw new EdgefitError('E_WEIGHTS', `zoo parameter ${param} has no Keras weight${k ? ` (${k[0]}/${k[1]})` : ''}`);
    const want = shape.reduce((a, d) => a * d, 1);
    if (v.data.length !== want) throw new EdgefitError('E_WEIGHTS', `zoo parameter ${param} [${shape}] does not match Keras ${k[0]}/${k[1]} [${v.shape}]`);
    if (role === 'conv.weight') {
      const [kh, kw, kin, kout] = v.shape as [number, number, number, number];
      const [O, I] = [shape[0]!, shape[1]!];
      const out = new Float32Array(want);
      const depthwise = I === 1 && kout * kin === O && kin !== 1;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ci = 0; ci < kin; ci++) for (let o = 0; o < kout; o++) {
        const val = v.data[((i * kw + j) * kin + ci) * kout + o]!;
        const [oc, ic] = depthwise ? [ci * kout + o, 0] : [o, ci];
        out[((oc * I + ic) * kh + i) * kw + j] = val;
      }
      return out;
    }
    if (role === 'dense.weight') {
      const [fin, units] = v.shape as [number, number];
      const out = new Float32Array(want);
      for (let i = 0; i < fin; i++) for (let o = 0; o < units; o++) out[o * fin + i] = v.data[i * units + o]!;
      return out;
    }
    return v.data.slice();
  };
}
