/**
 * MobileNet-v1 (Howard et al. 2017, table 1): conv 3x3/2, 13 depthwise separable blocks, global average pool,
 * classifier. alpha scales every layer's channels (Keras: int(c * alpha)); any resolution works.
 *
 * Layer names (parameters are `${layer}.weight|bias` for convs, `${layer}.gamma|beta|mean|var` for BN), with the
 * Keras Applications names they correspond to:
 *   conv1          3x3/2, 32a            Keras conv1          (BN conv1.bn    = conv1_bn)
 *   block1.dw      3x3/1 depthwise       Keras conv_dw_1      (BN block1.dw.bn = conv_dw_1_bn)
 *   block1.pw      1x1, 64a              Keras conv_pw_1      (BN block1.pw.bn = conv_pw_1_bn)
 *   block{i}.dw / block{i}.pw            Keras conv_dw_{i} / conv_pw_{i}, i = 1..13, strides 2 at i = 2, 4, 6, 12
 *   pool           global average pool
 *   classifier     1x1 conv with bias    Keras conv_preds (option classifier=dense: a dense layer, weight [classes, C])
 *   classifier.flatten, softmax (option)
 * Option head=ssdlite replaces pool and classifier with the SSDLite detector head (src/zoo/ssdlite.ts).
 * Activation layers are `${conv}.act` (ReLU6 by default).
 */
import { GraphBuilder, convBnAct, separable } from './blocks.js';
import { metaOf, scaleChannels } from './common.js';
import type { Graph } from './graph.js';
import type { ResolvedOptions } from './options.js';
import { HEAD, ssdliteHead } from './ssdlite.js';
import { ACTIVATIONS, CLASSES, MAX_RESOLUTION, SOFTMAX, grid, type FamilySpec } from './family-spec.js';

/** [pointwise output channels, depthwise stride] of blocks 1..13 */
export const MOBILENET_V1_BLOCKS: ReadonlyArray<readonly [number, number]> = [
  [64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2],
  [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1],
];

export function buildMobileNetV1(o: ResolvedOptions): Graph {
  const b = new GraphBuilder(metaOf(o), o.weights, o.activation);
  let x = convBnAct(b, 'conv1', b.inputName, { out: scaleChannels(32, o.alpha), kernel: 3, stride: 2 });
  let stride16 = '';
  MOBILENET_V1_BLOCKS.forEach(([c, s], i) => {
    x = separable(b, `block${i + 1}`, x, { out: scaleChannels(c, o.alpha), stride: s });
    if (i + 1 === 11) stride16 = x;
  });
  // SSDLite taps Conv2d_11_pointwise (stride 16) and Conv2d_13_pointwise (stride 32)
  if (o.options['head'] === 'ssdlite') return b.finish(ssdliteHead(b, [stride16, x], o.alpha, o.classes));
  x = b.gap('pool', x);
  if (o.options['classifier'] === 'dense') {
    x = b.dense('classifier', b.flatten('pool.flatten', x), o.classes);
  } else {
    x = b.flatten('classifier.flatten', b.conv('classifier', x, { out: o.classes, kernel: 1, bias: true }));
  }
  if (o.options['softmax'] === true) x = b.softmax('softmax', x);
  return b.finish(x);
}

export const mobilenetV1: FamilySpec = {
  family: 'mobilenet_v1',
  accepted: {
    alpha: [0.25, 0.5, 0.75, 1.0],
    defaultAlpha: 1.0,
    // five stride-2 stages: 32 px is the smallest input that keeps a whole pixel before global pooling
    resolution: { min: 32, max: MAX_RESOLUTION, default: 224, published: [128, 160, 192, 224] },
    activation: ACTIVATIONS,
    defaultActivation: 'relu6',
    classes: CLASSES,
    options: {
      classifier: { values: ['conv', 'dense'], default: 'conv', description: 'classifier as a 1x1 conv (as Keras conv_preds) or a dense layer' },
      softmax: SOFTMAX,
      head: HEAD,
    },
  },
  build: buildMobileNetV1,
  ladder: grid('mobilenet_v1', [0.25, 0.5, 0.75, 1.0], [128, 160, 192, 224]),
  // the zoo fallback of the catalog ladder: the cheapest family, its published grid, probabilities out
  fallback: { alphas: [0.25, 0.5, 0.75, 1.0], resolutions: [128, 160, 192, 224], options: { softmax: true } },
};
