/**
 * Xception (Chollet 2017, figure 5), layer for layer as Keras Applications: entry flow (two unpadded 3x3 convs,
 * three residual blocks of separable convs with a strided 1x1 conv shortcut), middle flow (8 residual blocks of
 * three separable convs, 728 channels), exit flow, two separable convs 1536 and 2048, global average pool,
 * dense classifier. Separable convs have no BN or activation between depthwise and pointwise (the paper's
 * finding, and Keras SeparableConv2D); each is followed by BN, and activations come before them (pre-activation
 * inside the residual blocks).
 *
 * Names: conv1, conv2 (+.bn,.act); block{2..13}.sep{1..3}.{dw,pw,pw.bn} with the pre-activation block{b}.sep{k}.pre;
 * block{2,3,4,13}.shortcut (+.bn), block{b}.pool, block{b}.add; block14.sep{1,2} (+.act after); pool,
 * pool.flatten, classifier. (Keras: block{b}_sepconv{k}_depthwise/_pointwise, block{b}_sepconv{k}_bn.)
 */
import { GraphBuilder, convBnAct, separable } from './blocks.js';
import { metaOf } from './common.js';
import type { Graph } from './graph.js';
import type { ResolvedOptions } from './options.js';
import { CLASSES, MAX_RESOLUTION, SOFTMAX, type FamilySpec } from './family-spec.js';

export function buildXception(o: ResolvedOptions): Graph {
  const order = o.options['separable_order'] === 'pointwise-first' ? 'pointwise-first' : 'depthwise-first';
  const b = new GraphBuilder(metaOf(o), o.weights, o.activation);
  const sep = (name: string, x: string, out: number, preAct: boolean): string =>
    separable(b, name, preAct ? b.act(`${name}.pre`, x) : x, { out, order, innerBnAct: false, outerAct: false });

  let x = convBnAct(b, 'conv1', b.inputName, { out: 32, kernel: 3, stride: 2, pad: 'valid' });
  x = convBnAct(b, 'conv2', x, { out: 64, kernel: 3, pad: 'valid' });

  // entry flow: block2 takes the already-activated conv2 output, so its first separable conv has no pre-activation
  const entry: Array<[number, number]> = [[2, 128], [3, 256], [4, 728]];
  for (const [blk, c] of entry) {
    const sc = convBnAct(b, `block${blk}.shortcut`, x, { out: c, kernel: 1, stride: 2, act: false });
    let t = sep(`block${blk}.sep1`, x, c, blk !== 2);
    t = sep(`block${blk}.sep2`, t, c, true);
    t = b.pool(`block${blk}.pool`, t, 'maxpool', { kernel: 3, stride: 2, pad: 'same' });
    x = b.add(`block${blk}.add`, t, sc);
  }

  for (let blk = 5; blk <= 12; blk++) {
    let t = x;
    for (let k = 1; k <= 3; k++) t = sep(`block${blk}.sep${k}`, t, 728, true);
    x = b.add(`block${blk}.add`, t, x);
  }

  const sc = convBnAct(b, 'block13.shortcut', x, { out: 1024, kernel: 1, stride: 2, act: false });
  let t = sep('block13.sep1', x, 728, true);
  t = sep('block13.sep2', t, 1024, true);
  t = b.pool('block13.pool', t, 'maxpool', { kernel: 3, stride: 2, pad: 'same' });
  x = b.add('block13.add', t, sc);

  x = b.act('block14.sep1.act', sep('block14.sep1', x, 1536, false));
  x = b.act('block14.sep2.act', sep('block14.sep2', x, 2048, false));

  x = b.flatten('pool.flatten', b.gap('pool', x));
  x = b.dense('classifier', x, o.classes);
  if (o.options['softmax'] === true) x = b.softmax('softmax', x);
  return b.finish(x);
}

export const xception: FamilySpec = {
  family: 'xception',
  accepted: {
    alpha: [1.0],
    defaultAlpha: 1.0,
    // the two unpadded entry convs and four stride-2 stages: Keras also refuses inputs below 71
    resolution: { min: 71, max: MAX_RESOLUTION, default: 299, published: [299] },
    activation: ['relu', 'relu6'],
    defaultActivation: 'relu',
    classes: CLASSES,
    options: {
      separable_order: {
        values: ['depthwise-first', 'pointwise-first'],
        default: 'depthwise-first',
        description: 'order inside each separable conv: depthwise-first is the reference (Keras SeparableConv2D); pointwise-first is the paper\'s "extreme Inception" reading',
      },
      softmax: SOFTMAX,
    },
  },
  build: buildXception,
  ladder: [{ family: 'xception', alpha: 1.0, resolution: 299 }],
};
