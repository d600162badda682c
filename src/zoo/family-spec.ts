/**
 * One zoo family, described once: what it accepts, how it is built, how its non-default options show in a
 * variant id, and its rungs of the default ladder. Each family file exports its spec; src/zoo/families.ts
 * collects them in one table (the way Frigate's detector plugins each declare themselves and one module lists
 * them), and the registry, the ladders and the CLI read only that table.
 */
import type { Activation, Family, Graph } from './graph.js';
import type { BuildOptions, OptionValue, ResolvedOptions } from './options.js';

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

export interface FamilySpec {
  family: Family;
  accepted: AcceptedValues;
  build(o: ResolvedOptions): Graph;
  /**
   * options always written into a variant id, as short tags right after the resolution (e.g. `g3`, `v1.1`);
   * every other option shows only when it differs from its default
   */
  idTags?: readonly { option: string; prefix: string }[];
  /** this family's rungs of the default zoo ladder (`edgefit zoo`), smallest first */
  ladder: readonly BuildOptions[];
  /**
   * the rungs the catalog ladder falls back to when no pretrained model is on disk (one family has them): one
   * ONNX file per alpha with symbolic H/W, run at each resolution
   */
  fallback?: { alphas: readonly number[]; resolutions: readonly number[]; options: Record<string, OptionValue> };
}

export const ACTIVATIONS: readonly Activation[] = ['relu6', 'relu'];
export const CLASSES = { min: 1, max: 100_000, default: 1000 } as const;
export const MAX_RESOLUTION = 2048;

export const SOFTMAX: OptionSpec = {
  values: [false, true],
  default: false,
  description: 'end the graph with a softmax (probabilities) instead of logits',
};

/** The ladder rungs of every alpha at every resolution, alpha-major. */
export function grid(family: Family, alphas: readonly number[], resolutions: readonly number[]): BuildOptions[] {
  return alphas.flatMap((alpha) => resolutions.map((resolution) => ({ family, alpha, resolution })));
}
