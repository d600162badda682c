/**
 * The building blocks of the small-CNN families. Every block names its layers `${name}.<part>` so parameter
 * names are stable and readable (importers map real weights onto them):
 *   convBnAct:            name, name.bn, name.act
 *   separable:            name.dw(.bn,.act), name.pw(.bn,.act)
 *   invertedResidual:     name.expand(.bn,.act), name.dw(.bn,.act), name.project(.bn), name.add
 *   shuffleUnit:          name.gconv1(.bn,.act), name.shuffle, name.dw(.bn), name.gconv2(.bn),
 *                         name.shortcut (avg pool, stride 2), name.add | name.concat, name.act
 *   fire:                 name.squeeze(.bn,.act), name.expand1x1(.bn,.act), name.expand3x3(.bn,.act), name.concat
 */
import { GraphBuilder, type ConvSpec } from './builder.js';

export { GraphBuilder, samePads, BN_EPSILON } from './builder.js';

/** A conv (`bias`: in addition to BN, only where a reference implementation has one, e.g. SqueezeNet) + BN + act. */
export interface ConvBnActSpec extends ConvSpec {
  /** false: conv + BN only (linear), e.g. MobileNet-v2's projection */
  act?: boolean;
}

export function convBnAct(b: GraphBuilder, name: string, x: string, s: ConvBnActSpec): string {
  const c = b.conv(name, x, { out: s.out, kernel: s.kernel, stride: s.stride, pad: s.pad ?? 'same', group: s.group, bias: s.bias });
  const n = b.bn(`${name}.bn`, c);
  return s.act === false ? n : b.act(`${name}.act`, n);
}

export interface SeparableSpec {
  out: number;
  stride?: number;
  kernel?: number;
  /** depthwise-first (MobileNet, Keras SeparableConv2D) or pointwise-first (Inception-style reading of Xception) */
  order?: 'depthwise-first' | 'pointwise-first';
  /**
   * BN + activation after the first of the two convs. MobileNet-v1: true. Xception: false (the paper found
   * no non-linearity between them works best, and Keras SeparableConv2D has none).
   */
  innerBnAct?: boolean;
  /** BN after the second conv (default true) and activation after it (default true). */
  outerBn?: boolean;
  outerAct?: boolean;
}

/**
 * Depthwise separable conv: a kxk depthwise conv (one filter per channel) and a 1x1 pointwise conv.
 * With pointwise-first the depthwise conv runs on the output channels.
 */
export function separable(b: GraphBuilder, name: string, x: string, s: SeparableSpec): string {
  const k = s.kernel ?? 3;
  const stride = s.stride ?? 1;
  const inner = s.innerBnAct ?? true;
  const outerBn = s.outerBn ?? true;
  const outerAct = s.outerAct ?? true;
  const steps: Array<'dw' | 'pw'> = (s.order ?? 'depthwise-first') === 'depthwise-first' ? ['dw', 'pw'] : ['pw', 'dw'];
  let t = x;
  steps.forEach((step, i) => {
    const last = i === steps.length - 1;
    const lname = `${name}.${step}`;
    if (step === 'dw') {
      const c = b.channels(t);
      t = b.conv(lname, t, { out: c, kernel: k, stride, pad: 'same', group: c });
    } else {
      t = b.conv(lname, t, { out: s.out, kernel: 1 });
    }
    if (last ? outerBn : inner) t = b.bn(`${lname}.bn`, t);
    if (last ? outerAct : inner) t = b.act(`${lname}.act`, t);
  });
  return t;
}

export interface InvertedResidualSpec {
  out: number;
  stride: number;
  /** expansion factor t; 1 skips the expansion conv (MobileNet-v2's first block) */
  expand: number;
}

/**
 * MobileNet-v2 block: 1x1 expand to t*in channels, 3x3 depthwise, 1x1 linear projection (no activation: ReLU
 * on few channels destroys information), residual add between the narrow ends when shapes allow.
 */
export function invertedResidual(b: GraphBuilder, name: string, x: string, s: InvertedResidualSpec): string {
  const inC = b.channels(x);
  let t = x;
  if (s.expand !== 1) t = convBnAct(b, `${name}.expand`, t, { out: inC * s.expand, kernel: 1 });
  const c = b.channels(t);
  t = convBnAct(b, `${name}.dw`, t, { out: c, kernel: 3, stride: s.stride, group: c });
  t = convBnAct(b, `${name}.project`, t, { out: s.out, kernel: 1, act: false });
  return s.stride === 1 && inC === s.out ? b.add(`${name}.add`, x, t) : t;
}

export interface ShuffleUnitSpec {
  out: number;
  stride: 1 | 2;
  groups: number;
  /** bottleneck channels (the paper: a quarter of the unit's output channels) */
  mid: number;
  /** group the first 1x1 conv (false for the very first unit, whose input has few channels) */
  groupFirst: boolean;
}

/**
 * ShuffleNet-v1 unit: 1x1 group conv - BN - act - channel shuffle - 3x3 depthwise (stride) - BN - 1x1 group
 * conv - BN, then add (stride 1) or concat with a 3x3/2 average-pooled shortcut (stride 2), then act.
 */
export function shuffleUnit(b: GraphBuilder, name: string, x: string, s: ShuffleUnitSpec): string {
  const inC = b.channels(x);
  const g1 = s.groupFirst ? s.groups : 1;
  const branchOut = s.stride === 2 ? s.out - inC : s.out;
  if (s.stride === 1 && inC !== s.out) throw new Error(`layer ${name}: stride-1 shuffle unit needs in == out channels, got ${inC} -> ${s.out}`);
  if (branchOut <= 0) throw new Error(`layer ${name}: output channels ${s.out} must exceed input channels ${inC}`);
  let t = convBnAct(b, `${name}.gconv1`, x, { out: s.mid, kernel: 1, group: g1 });
  // after an ungrouped conv every channel already sees every input: a shuffle would be a no-op permutation
  if (g1 > 1) t = b.shuffle(`${name}.shuffle`, t, s.groups);
  t = convBnAct(b, `${name}.dw`, t, { out: s.mid, kernel: 3, stride: s.stride, pad: 1, group: s.mid, act: false });
  t = convBnAct(b, `${name}.gconv2`, t, { out: branchOut, kernel: 1, group: s.groups, act: false });
  let y: string;
  if (s.stride === 1) y = b.add(`${name}.add`, x, t);
  else {
    const sc = b.pool(`${name}.shortcut`, x, 'avgpool', { kernel: 3, stride: 2, pad: 1 });
    y = b.concat(`${name}.concat`, [sc, t]);
  }
  return b.act(`${name}.act`, y);
}

export interface FireSpec {
  squeeze: number;
  expand1x1: number;
  expand3x3: number;
  bias?: boolean;
}

/** SqueezeNet fire module: 1x1 squeeze, then parallel 1x1 and 3x3 expand convs, concatenated. */
export function fire(b: GraphBuilder, name: string, x: string, s: FireSpec): string {
  const sq = convBnAct(b, `${name}.squeeze`, x, { out: s.squeeze, kernel: 1, bias: s.bias });
  const e1 = convBnAct(b, `${name}.expand1x1`, sq, { out: s.expand1x1, kernel: 1, bias: s.bias });
  const e3 = convBnAct(b, `${name}.expand3x3`, sq, { out: s.expand3x3, kernel: 3, pad: 1, bias: s.bias });
  return b.concat(`${name}.concat`, [e1, e3]);
}
