/**
 * MobileNet-v2 (Sandler et al. 2018, table 2): conv 3x3/2 32, 17 inverted residual blocks, conv 1x1 1280,
 * global average pool, dense classifier. Channels as the Keras/TF reference: make_divisible(int(c*alpha), 8);
 * the first conv make_divisible(32*alpha, 8); the last conv stays 1280 for alpha <= 1 (the paper: it helps
 * small models) and is make_divisible(1280*alpha, 8) above.
 *
 * Names (Keras Applications names in brackets): conv1 [Conv1], block0.dw/.project [expanded_conv_depthwise,
 * expanded_conv_project], block{i}.expand/.dw/.project for i = 1..16 [block_{i}_expand, _depthwise, _project],
 * conv_last [Conv_1], pool, pool.flatten, classifier [predictions]; BN layers `${conv}.bn`.
 * Option head=ssdlite replaces pool and classifier with the SSDLite detector head (src/zoo/ssdlite.ts).
 */
import { GraphBuilder, convBnAct, invertedResidual } from './blocks.js';
import { makeDivisible, metaOf, scaleChannels } from './common.js';
import type { Graph } from './graph.js';
import type { ResolvedOptions } from './options.js';
import { HEAD, ssdliteHead } from './ssdlite.js';
import { ACTIVATIONS, CLASSES, MAX_RESOLUTION, SOFTMAX, grid, type FamilySpec } from './family-spec.js';

/** The paper's table 2: expansion t, output channels c, repeats n, first stride s. */
export const MOBILENET_V2_STAGES: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

/** the stride-16 tensor SSDLite reads: block 13's expansion (576 channels at alpha 1), before its stride-2 depthwise */
const SSDLITE_TAP_V2 = 'block13.expand.act';

export function buildMobileNetV2(o: ResolvedOptions): Graph {
  const b = new GraphBuilder(metaOf(o), o.weights, o.activation);
  let x = convBnAct(b, 'conv1', b.inputName, { out: makeDivisible(32 * o.alpha, 8), kernel: 3, stride: 2 });
  let block = 0;
  for (const [t, c, n, s] of MOBILENET_V2_STAGES) {
    const out = makeDivisible(scaleChannels(c, o.alpha), 8);
    for (let i = 0; i < n; i++) {
      x = invertedResidual(b, `block${block}`, x, { out, stride: i === 0 ? s : 1, expand: t });
      block++;
    }
  }
  const last = o.alpha > 1 ? makeDivisible(1280 * o.alpha, 8) : 1280;
  x = convBnAct(b, 'conv_last', x, { out: last, kernel: 1 });
  // SSDLite taps the expansion of block 13 (the paper's "layer 15", stride 16) and the last 1x1 conv (stride 32)
  if (o.options['head'] === 'ssdlite') return b.finish(ssdliteHead(b, [SSDLITE_TAP_V2, x], o.alpha, o.classes));
  x = b.flatten('pool.flatten', b.gap('pool', x));
  x = b.dense('classifier', x, o.classes);
  if (o.options['softmax'] === true) x = b.softmax('softmax', x);
  return b.finish(x);
}

export const mobilenetV2: FamilySpec = {
  family: 'mobilenet_v2',
  accepted: {
    alpha: [0.35, 0.5, 0.75, 1.0, 1.3, 1.4],
    defaultAlpha: 1.0,
    resolution: { min: 32, max: MAX_RESOLUTION, default: 224, published: [96, 128, 160, 192, 224] },
    activation: ACTIVATIONS,
    defaultActivation: 'relu6',
    classes: CLASSES,
    options: { softmax: SOFTMAX, head: HEAD },
  },
  build: buildMobileNetV2,
  ladder: grid('mobilenet_v2', [0.35, 0.5, 0.75, 1.0, 1.3, 1.4], [96, 128, 160, 192, 224]),
};
