/**
 * SqueezeNet 1.0 (Iandola et al. 2016, table 1) and 1.1 (the reference repository's revision: 3x3 conv1 with
 * 64 filters and earlier pooling, 2.4x fewer MACs at the same accuracy). Layers follow the reference
 * implementation, including the conv biases; a BN follows every conv except the classifier conv (zoo graphs
 * are training-style; folding the BN merges it into those biases). The classifier is a 1x1 conv with ReLU then
 * global average pooling, as in the reference.
 *
 * Names: conv1 (+.bn,.act), pool1, fire{2..9}.{squeeze,expand1x1,expand3x3,concat}, pool{3,4} (1.1: pool{3,5}),
 * classifier (+.act), pool, pool.flatten.
 */
import { GraphBuilder, convBnAct, fire } from './blocks.js';
import { metaOf } from './common.js';
import type { Graph } from './graph.js';
import type { ResolvedOptions } from './options.js';
import { CLASSES, MAX_RESOLUTION, SOFTMAX, type FamilySpec } from './family-spec.js';

/** [squeeze, expand1x1, expand3x3] of fire2..fire9 (the same in both versions). */
export const FIRE_MODULES: ReadonlyArray<readonly [number, number, number]> = [
  [16, 64, 64], [16, 64, 64], [32, 128, 128], [32, 128, 128], [48, 192, 192], [48, 192, 192], [64, 256, 256], [64, 256, 256],
];

export function buildSqueezeNet(o: ResolvedOptions): Graph {
  const v11 = o.options['version'] === '1.1';
  const b = new GraphBuilder(metaOf(o), o.weights, o.activation);
  // Caffe pooling rounds up: ceil mode
  const pool = (name: string, t: string): string => b.pool(name, t, 'maxpool', { kernel: 3, stride: 2, ceil: true });
  let x = convBnAct(b, 'conv1', b.inputName, v11
    ? { out: 64, kernel: 3, stride: 2, pad: 'valid', bias: true }
    : { out: 96, kernel: 7, stride: 2, pad: 'valid', bias: true });
  x = pool('pool1', x);
  // fire index after which a max pool follows
  const poolAfter = v11 ? [3, 5] : [4, 8];
  FIRE_MODULES.forEach(([s, e1, e3], i) => {
    const idx = i + 2;
    x = fire(b, `fire${idx}`, x, { squeeze: s, expand1x1: e1, expand3x3: e3, bias: true });
    if (poolAfter.includes(idx)) x = pool(`pool${idx}`, x);
  });
  x = b.act('classifier.act', b.conv('classifier', x, { out: o.classes, kernel: 1, bias: true }));
  x = b.flatten('pool.flatten', b.gap('pool', x));
  if (o.options['softmax'] === true) x = b.softmax('softmax', x);
  return b.finish(x);
}

export const squeezenet: FamilySpec = {
  family: 'squeezenet',
  accepted: {
    alpha: [1.0],
    defaultAlpha: 1.0,
    // conv1 without padding and three unpadded 3x3/2 pools: below 29 px (v1.0; 25 for v1.1) the last pool's
    // window no longer fits
    resolution: { min: 29, max: MAX_RESOLUTION, default: 224, published: [224] },
    activation: ['relu', 'relu6'],
    defaultActivation: 'relu',
    classes: CLASSES,
    options: {
      version: { values: ['1.0', '1.1'], default: '1.0', description: 'SqueezeNet 1.0 (paper) or 1.1 (2.4x fewer MACs, same accuracy)' },
      softmax: SOFTMAX,
    },
  },
  build: buildSqueezeNet,
  idTags: [{ option: 'version', prefix: 'v' }],
  ladder: [
    { family: 'squeezenet', alpha: 1.0, resolution: 224, options: { version: '1.1' } },
    { family: 'squeezenet', alpha: 1.0, resolution: 224, options: { version: '1.0' } },
  ],
};
