/**
 * The zoo's public contract: what can be built, with which values, and the default ladder the selector climbs.
 * Everything that comes from a user (CLI flags, config) is validated here, once, with messages that name the
 * accepted values.
 */
import { EdgefitError } from '../util/errors.js';
import { inferShapes, type Activation, type Family, type Graph } from './graph.js';
import type { BuildOptions, OptionValue, ResolvedOptions } from './options.js';
import { ResolutionTooSmallError } from './builder.js';
import { heInit } from './init.js';
import { buildMobileNetV1 } from './mobilenet_v1.js';
import { buildMobileNetV2 } from './mobilenet_v2.js';
import { buildShuffleNetV1 } from './shufflenet.js';
import { buildSqueezeNet } from './squeezenet.js';
import { buildXception } from './xception.js';

export type { BuildOptions, OptionValue, ResolvedOptions } from './options.js';

export interface OptionSpec {
  values: readonly OptionValue[];
  default: OptionValue;
  description: string;
}

export interface AcceptedValues {
  /** the alphas this family accepts (the published ones) */
  alpha: readonly number[];
  defaultAlpha: number;
  /** inclusive bounds of the input side; any integer between works (global average pooling) */
  resolution: { min: number; max: number; default: number; published: readonly number[] };
  activation: readonly Activation[];
  defaultActivation: Activation;
  classes: { min: number; max: number; default: number };
  options: Record<string, OptionSpec>;
}

export const FAMILIES: readonly Family[] = ['mobilenet_v1', 'mobilenet_v2', 'shufflenet_v1', 'squeezenet', 'xception'];

const ACTIVATIONS: readonly Activation[] = ['relu6', 'relu'];
const CLASSES = { min: 1, max: 100_000, default: 1000 } as const;
const MAX_RESOLUTION = 2048;

const SOFTMAX: OptionSpec = {
  values: [false, true],
  default: false,
  description: 'end the graph with a softmax (probabilities) instead of logits',
};

const ACCEPTED: Record<Family, AcceptedValues> = {
  mobilenet_v1: {
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
    },
  },
  mobilenet_v2: {
    alpha: [0.35, 0.5, 0.75, 1.0, 1.3, 1.4],
    defaultAlpha: 1.0,
    resolution: { min: 32, max: MAX_RESOLUTION, default: 224, published: [96, 128, 160, 192, 224] },
    activation: ACTIVATIONS,
    defaultActivation: 'relu6',
    classes: CLASSES,
    options: { softmax: SOFTMAX },
  },
  shufflenet_v1: {
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
  squeezenet: {
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
  xception: {
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
};

/** Accepted values of one family (for CLI messages and docs). Throws on an unknown family. */
export function acceptedValues(family: Family): AcceptedValues {
  checkFamily(family);
  return ACCEPTED[family];
}

function checkFamily(family: unknown): asserts family is Family {
  if (typeof family !== 'string' || !(FAMILIES as readonly string[]).includes(family)) {
    throw new EdgefitError('ZOO_BAD_FAMILY', `unknown model family ${JSON.stringify(family)}: use one of ${FAMILIES.join(', ')}`);
  }
}

function list(values: readonly OptionValue[]): string {
  return values.map((v) => String(v)).join(', ');
}

/** Option values arrive as strings from the CLI: "3" for 3, "true" for true, "1.1" stays "1.1". */
function coerceOption(spec: OptionSpec, raw: OptionValue): OptionValue | undefined {
  for (const v of spec.values) {
    if (v === raw) return v;
    if (typeof v === 'number' && typeof raw === 'string' && raw.trim() !== '' && Number(raw) === v) return v;
    if (typeof v === 'boolean' && typeof raw === 'string' && raw === String(v)) return v;
    // "1" or 1 for version "1.0"
    if (typeof v === 'string' && (typeof raw === 'number' || typeof raw === 'string') && !Number.isNaN(Number(v)) && String(raw).trim() !== '' && Number(raw) === Number(v)) return v;
  }
  return undefined;
}

/** Validates and fills defaults; throws EdgefitError with a one-line message naming the accepted values. */
export function resolveOptions(opts: BuildOptions): ResolvedOptions {
  if (opts === null || typeof opts !== 'object') throw new EdgefitError('ZOO_BAD_OPTIONS', 'build options must be an object with at least family and resolution');
  const family = opts.family;
  checkFamily(family);
  const acc = ACCEPTED[family];

  const alpha = opts.alpha ?? acc.defaultAlpha;
  if (typeof alpha !== 'number' || !acc.alpha.some((a) => Math.abs(a - alpha) < 1e-9)) {
    throw new EdgefitError('ZOO_BAD_ALPHA', `${family} does not accept alpha ${String(opts.alpha)}: use one of ${acc.alpha.map(formatAlpha).join(', ')}`);
  }

  const res = opts.resolution;
  const r = acc.resolution;
  if (typeof res !== 'number' || !Number.isInteger(res) || res < r.min || res > r.max) {
    const why = typeof res === 'number' && Number.isInteger(res) && res < r.min ? ' (too small: the feature map would vanish before the classifier)' : '';
    throw new EdgefitError('ZOO_BAD_RESOLUTION', `${family} does not accept resolution ${String(res)}${why}: use an integer from ${r.min} to ${r.max} (published: ${r.published.join(', ')})`);
  }

  const classes = opts.classes ?? CLASSES.default;
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < CLASSES.min || classes > CLASSES.max) {
    throw new EdgefitError('ZOO_BAD_CLASSES', `classes must be an integer from ${CLASSES.min} to ${CLASSES.max}, not ${String(opts.classes)}`);
  }

  const activation = opts.activation ?? acc.defaultActivation;
  if (!acc.activation.includes(activation)) {
    throw new EdgefitError('ZOO_BAD_ACTIVATION', `${family} does not accept activation ${JSON.stringify(opts.activation)}: use one of ${acc.activation.join(', ')}`);
  }

  const seed = opts.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EdgefitError('ZOO_BAD_SEED', `seed must be an integer from 0 to 4294967295, not ${String(opts.seed)}`);
  }
  if (opts.weights !== undefined && typeof opts.weights !== 'function') {
    throw new EdgefitError('ZOO_BAD_WEIGHTS', 'weights must be a WeightSource function (paramName, shape, role, fanIn) => Float32Array');
  }

  const options: Record<string, OptionValue> = {};
  const given = opts.options ?? {};
  if (given === null || typeof given !== 'object') throw new EdgefitError('ZOO_BAD_OPTION', `options must be an object of ${Object.keys(acc.options).join(', ')}`);
  for (const key of Object.keys(given)) {
    if (!(key in acc.options)) {
      const names = Object.keys(acc.options);
      throw new EdgefitError('ZOO_BAD_OPTION', `${family} has no option ${JSON.stringify(key)}: use ${names.length ? names.join(', ') : 'no options'}`);
    }
  }
  for (const [key, spec] of Object.entries(acc.options)) {
    const raw = given[key];
    if (raw === undefined) { options[key] = spec.default; continue; }
    const v = coerceOption(spec, raw);
    if (v === undefined) throw new EdgefitError('ZOO_BAD_OPTION', `${family} option ${key} does not accept ${JSON.stringify(raw)}: use one of ${list(spec.values)}`);
    options[key] = v;
  }

  return { family, alpha, resolution: res, classes, activation, seed, weights: opts.weights ?? heInit(seed), options };
}

const BUILDERS: Record<Family, (o: ResolvedOptions) => Graph> = {
  mobilenet_v1: buildMobileNetV1,
  mobilenet_v2: buildMobileNetV2,
  shufflenet_v1: buildShuffleNetV1,
  squeezenet: buildSqueezeNet,
  xception: buildXception,
};

/** Builds a training-style graph (BN everywhere) of one zoo variant; validates first. */
export function buildGraph(opts: BuildOptions): Graph {
  const o = resolveOptions(opts);
  const tooSmall = (err: unknown): EdgefitError => new EdgefitError('ZOO_BAD_RESOLUTION',
    `${o.family} cannot run at resolution ${o.resolution} (${(err as Error).message}): use a larger resolution (published: ${ACCEPTED[o.family].resolution.published.join(', ')})`,
    { cause: err });
  let g: Graph;
  try {
    g = BUILDERS[o.family](o);
  } catch (err) {
    throw err instanceof ResolutionTooSmallError ? tooSmall(err) : err;
  }
  try {
    inferShapes(g);
  } catch (err) {
    throw tooSmall(err);
  }
  return g;
}

/** 1 -> "1.0", 0.5 -> "0.5": as in published model names. */
export function formatAlpha(a: number): string {
  return Number.isInteger(a) ? a.toFixed(1) : String(a);
}

/**
 * A stable, file-name-safe id: family-alpha-resolution, then tags for non-default choices,
 * e.g. "mobilenet_v1-0.5-160", "shufflenet_v1-1.0-224-g3", "squeezenet-1.0-224-v1.1", "mobilenet_v2-1.0-224-relu-c10".
 */
export function variantId(opts: BuildOptions): string {
  const o = resolveOptions({ ...opts, weights: undefined });
  const acc = ACCEPTED[o.family];
  const parts = [o.family, formatAlpha(o.alpha), String(o.resolution)];
  if (o.family === 'shufflenet_v1') parts.push(`g${String(o.options['groups'])}`);
  if (o.family === 'squeezenet') parts.push(`v${String(o.options['version'])}`);
  for (const [key, spec] of Object.entries(acc.options)) {
    if (key === 'groups' || key === 'version' || o.options[key] === spec.default) continue;
    parts.push(typeof spec.default === 'boolean' ? key : `${key}=${String(o.options[key])}`);
  }
  if (o.activation !== acc.defaultActivation) parts.push(o.activation);
  if (o.classes !== CLASSES.default) parts.push(`c${o.classes}`);
  return parts.join('-');
}

/** The default ladder, smallest-first within each family. */
export function zooLadder(): BuildOptions[] {
  const out: BuildOptions[] = [];
  for (const alpha of [0.25, 0.5, 0.75, 1.0]) for (const resolution of [128, 160, 192, 224]) out.push({ family: 'mobilenet_v1', alpha, resolution });
  for (const alpha of [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]) for (const resolution of [96, 128, 160, 192, 224]) out.push({ family: 'mobilenet_v2', alpha, resolution });
  out.push({ family: 'shufflenet_v1', alpha: 0.5, resolution: 224, options: { groups: 3 } });
  out.push({ family: 'shufflenet_v1', alpha: 1.0, resolution: 224, options: { groups: 3 } });
  out.push({ family: 'squeezenet', alpha: 1.0, resolution: 224, options: { version: '1.1' } });
  out.push({ family: 'squeezenet', alpha: 1.0, resolution: 224, options: { version: '1.0' } });
  out.push({ family: 'xception', alpha: 1.0, resolution: 299 });
  return out;
}
