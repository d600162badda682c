/**
 * What a zoo build is asked for and what a family builder receives: types only, so the family files and the
 * registry that lists them both import from here instead of from each other.
 */
import type { Activation, Family, WeightSource } from './graph.js';

export type OptionValue = string | number | boolean;

export interface BuildOptions {
  family: Family;
  /** width multiplier (MobileNets) or scale factor s (ShuffleNet); must be 1 (or omitted) elsewhere */
  alpha?: number;
  /** square input side in pixels */
  resolution: number;
  /** default 1000 */
  classes?: number;
  /** default relu6 for MobileNets, relu for the others */
  activation?: Activation;
  /** seed of the default He initialiser; default 0. Ignored when `weights` is given. */
  seed?: number;
  /** where the weights come from (an importer's real weights); default He init from `seed` */
  weights?: WeightSource;
  /** family-specific options, see acceptedValues(family).options */
  options?: Record<string, OptionValue>;
}

/** Options after validation and defaulting: what a family builder receives. */
export interface ResolvedOptions {
  family: Family;
  alpha: number;
  resolution: number;
  classes: number;
  activation: Activation;
  seed: number;
  weights: WeightSource;
  options: Record<string, OptionValue>;
}
