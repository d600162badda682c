/**
 * ShuffleNet v1 (Zhang et al. 2017, table 1): conv 3x3/2 24, max pool 3x3/2, three stages of shuffle units
 * (repeats 4, 8, 4; the first unit of each stage has stride 2 and concatenates an average-pooled shortcut),
 * global average pool, dense classifier. Bottleneck = a quarter of the stage's output channels; the first
 * unit of stage 2 does not group its first 1x1 conv (only 24 input channels).
 *
 * Scale factor s ("ShuffleNet s x") multiplies every channel count; to keep the group convs valid the stage
 * widths are rounded to multiples of 4g and the stem to a multiple of g (s = 1 reproduces the table exactly).
 *
 * Names: conv1 (+.bn,.act), pool1, stage{2,3,4}.unit{1..n}.{gconv1,shuffle,dw,gconv2,shortcut,add|concat,act},
 * pool, pool.flatten, classifier.
 */
import { GraphBuilder, convBnAct, shuffleUnit } from './blocks.js';
import { metaOf } from './common.js';
import type { Graph } from './graph.js';
import type { ResolvedOptions } from './options.js';
import { CLASSES, MAX_RESOLUTION, SOFTMAX, type FamilySpec } from './family-spec.js';

/** Output channels of stages 2, 3, 4 for each group count at 1x (table 1). */
export const SHUFFLENET_STAGE_CHANNELS: Readonly<Record<number, readonly [number, number, number]>> = {
  1: [144, 288, 576],
  2: [200, 400, 800],
  3: [240, 480, 960],
  4: [272, 544, 1088],
  8: [384, 768, 1536],
};
export const SHUFFLENET_REPEATS = [4, 8, 4] as const;

function roundTo(v: number, m: number): number {
  return Math.max(m, Math.round(v / m) * m);
}

export function shuffleNetChannels(groups: number, scale: number): { stem: number; stages: [number, number, number] } {
  const base = SHUFFLENET_STAGE_CHANNELS[groups];
  if (!base) throw new Error(`ShuffleNet has no channel table for ${groups} groups`);
  return {
    stem: roundTo(24 * scale, groups),
    stages: base.map((c) => roundTo(c * scale, 4 * groups)) as [number, number, number],
  };
}

export function buildShuffleNetV1(o: ResolvedOptions): Graph {
  const g = Number(o.options['groups']);
  const ch = shuffleNetChannels(g, o.alpha);
  const b = new GraphBuilder(metaOf(o), o.weights, o.activation);
  let x = convBnAct(b, 'conv1', b.inputName, { out: ch.stem, kernel: 3, stride: 2, pad: 1 });
  x = b.pool('pool1', x, 'maxpool', { kernel: 3, stride: 2, pad: 1 });
  ch.stages.forEach((out, si) => {
    for (let u = 0; u < SHUFFLENET_REPEATS[si]!; u++) {
      x = shuffleUnit(b, `stage${si + 2}.unit${u + 1}`, x, {
        out,
        stride: u === 0 ? 2 : 1,
        groups: g,
        mid: out / 4,
        groupFirst: !(si === 0 && u === 0),
      });
    }
  });
  x = b.flatten('pool.flatten', b.gap('pool', x));
  x = b.dense('classifier', x, o.classes);
  if (o.options['softmax'] === true) x = b.softmax('softmax', x);
  return b.finish(x);
}

export const shufflenetV1: FamilySpec = {
  family: 'shufflenet_v1',
  accepted: {
    alpha: [0.25, 0.5, 1.0, 1.5, 2.0],
    defaultAlpha: 1.0,
    resolution: { min: 32, max: MAX_RESOLUTION, default: 224, published: [224] },
    activation: ['relu', 'relu6'],
    defaultActivation: 'relu',
    classes: CLASSES,
    options: {
      groups: { values: [1, 2, 3, 4, 8], default: 3, description: 'groups g of the 1x1 group convolutions' },
      softmax: SOFTMAX,
    },
  },
  build: buildShuffleNetV1,
  idTags: [{ option: 'groups', prefix: 'g' }],
  ladder: [
    { family: 'shufflenet_v1', alpha: 0.5, resolution: 224, options: { groups: 3 } },
    { family: 'shufflenet_v1', alpha: 1.0, resolution: 224, options: { groups: 3 } },
  ],
};
