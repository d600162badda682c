import type { KerasGraph } from './config.js';

/**
 * The pixel -> float mapping the model was trained with, which an .h5 does not record. Evidence, in order:
 * a Rescaling layer right after the input (the model normalises itself: feed raw pixels); Keras Applications
 * names of families preprocessed in "tf" mode (x/127.5 - 1); otherwise x/255, the common choice of custom
 * training scripts. Callers override with --input-scale/--input-offset when they know better.
 */
export function guessPreprocessing(g: KerasGraph): { scale: number; offset: number; source: string } {
  const first = g.layers.find((l) => l.inbound.includes(g.inputs[0]!));
  if (first && (first.className === 'Rescaling' || first.className === 'Normalization')) {
    return { scale: 1, offset: 0, source: `${first.className} layer inside the model` };
  }
  if (/^(mobilenet(v2)?|xception|inception_v3|inception_resnet_v2|nasnet(mobile|large)?)(_|$)/i.test(g.name)) {
    return { scale: 1 / 127.5, offset: -1, source: `Keras Applications '${g.name}' (tf-mode preprocessing)` };
  }
  return { scale: 1 / 255, offset: 0, source: 'default for custom models (pixel/255)' };
}
