/**
 * The zoo's public contract: what can be built, with which values, and the default ladder the selector climbs.
 * Everything that comes from a user (CLI flags, config) is validated here, once, with messages that name the
 * accepted values. What each family accepts and offers comes from its spec in the table of src/zoo/families.ts;
 * nothing here names a family.
 */
import { EdgefitError } from '../util/errors.js';
import { inferShapes, type Family, type Graph } from './graph.js';
import type { BuildOptions, OptionValue, ResolvedOptions } from './options.js';
import { ResolutionTooSmallError } from './builder.js';
import { heInit } from './init.js';
import { CLASSES, type AcceptedValues, type FamilySpec, type OptionSpec } from './family-spec.js';
import { FAMILY_SPECS, SPEC_OF } from './families.js';

export type { BuildOptions, OptionValue, ResolvedOptions } from './options.js';
export type { AcceptedValues, FamilySpec, OptionSpec } from './family-spec.js';

export const FAMILIES: readonly Family[] = FAMILY_SPECS.map((f) => f.family);

/** Accepted values of one family (for CLI messages and docs). Throws on an unknown family. */
export function acceptedValues(family: Family): AcceptedValues {
  return specOf(family).accepted;
}

function specOf(family: unknown): FamilySpec {
  checkFamily(family);
  return SPEC_OF.get(family)!;
}

function checkFamily(family: unknown): asserts family is Family {
  if (typeof family !== 'string' || !(FAMILIES as readonly string[]).includes(family)) {
    throw new EdgefitError('E_ZOO_FAMILY', `unknown model family ${JSON.stringify(family)}: use one of ${FAMILIES.join(', ')}`);
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
  if (opts === null || typeof opts !== 'object') throw new EdgefitError('E_ZOO_OPTION', 'build options must be an object with at least family and resolution');
  const family = opts.family;
  const acc = specOf(family).accepted;

  const alpha = opts.alpha ?? acc.defaultAlpha;
  if (typeof alpha !== 'number' || !acc.alpha.some((a) => Math.abs(a - alpha) < 1e-9)) {
    throw new EdgefitError('E_ZOO_ALPHA', `${family} does not accept alpha ${String(opts.alpha)}: use one of ${acc.alpha.map(formatAlpha).join(', ')}`);
  }

  const res = opts.resolution;
  const r = acc.resolution;
  if (typeof res !== 'number' || !Number.isInteger(res) || res < r.min || res > r.max) {
    const why = typeof res === 'number' && Number.isInteger(res) && res < r.min ? ' (too small: the feature map would vanish before the classifier)' : '';
    throw new EdgefitError('E_ZOO_RESOLUTION', `${family} does not accept resolution ${String(res)}${why}: use an integer from ${r.min} to ${r.max} (published: ${r.published.join(', ')})`);
  }

  const classes = opts.classes ?? CLASSES.default;
  if (typeof classes !== 'number' || !Number.isInteger(classes) || classes < CLASSES.min || classes > CLASSES.max) {
    throw new EdgefitError('E_ZOO_CLASSES', `classes must be an integer from ${CLASSES.min} to ${CLASSES.max}, not ${String(opts.classes)}`);
  }

  const activation = opts.activation ?? acc.defaultActivation;
  if (!acc.activation.includes(activation)) {
    throw new EdgefitError('E_ZOO_ACTIVATION', `${family} does not accept activation ${JSON.stringify(opts.activation)}: use one of ${acc.activation.join(', ')}`);
  }

  const seed = opts.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new EdgefitError('E_ZOO_SEED', `seed must be an integer from 0 to 4294967295, not ${String(opts.seed)}`);
  }
  if (opts.weights !== undefined && typeof opts.weights !== 'function') {
    throw new EdgefitError('E_ZOO_WEIGHTS', 'weights must be a WeightSource function (paramName, shape, role, fanIn) => Float32Array');
  }

  const options: Record<string, OptionValue> = {};
  const given = opts.options ?? {};
  if (given === null || typeof given !== 'object') throw new EdgefitError('E_ZOO_OPTION', `options must be an object of ${Object.keys(acc.options).join(', ')}`);
  for (const key of Object.keys(given)) {
    if (!(key in acc.options)) {
      const names = Object.keys(acc.options);
      throw new EdgefitError('E_ZOO_OPTION', `${family} has no option ${JSON.stringify(key)}: use ${names.length ? names.join(', ') : 'no options'}`);
    }
  }
  for (const [key, spec] of Object.entries(acc.options)) {
    const raw = given[key];
    if (raw === undefined) { options[key] = spec.default; continue; }
    const v = coerceOption(spec, raw);
    if (v === undefined) throw new EdgefitError('E_ZOO_OPTION', `${family} option ${key} does not accept ${JSON.stringify(raw)}: use one of ${list(spec.values)}`);
    options[key] = v;
  }

  return { family, alpha, resolution: res, classes, activation, seed, weights: opts.weights ?? heInit(seed), options };
}

/** Builds a training-style graph (BN everywhere) of one zoo variant; validates first. */
export function buildGraph(opts: BuildOptions): Graph {
  const o = resolveOptions(opts);
  const tooSmall = (err: unknown): EdgefitError => new EdgefitError('E_ZOO_RESOLUTION',
    `${o.family} cannot run at resolution ${o.resolution} (${(err as Error).message}): use a larger resolution (published: ${SPEC_OF.get(o.family)!.accepted.resolution.published.join(', ')})`,
    { cause: err });
  let g: Graph;
  try {
    g = SPEC_OF.get(o.family)!.build(o);
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
  const fam = SPEC_OF.get(o.family)!;
  const acc = fam.accepted;
  const tags = fam.idTags ?? [];
  const parts = [o.family, formatAlpha(o.alpha), String(o.resolution), ...tags.map((t) => `${t.prefix}${String(o.options[t.option])}`)];
  for (const [key, spec] of Object.entries(acc.options)) {
    if (tags.some((t) => t.option === key) || o.options[key] === spec.default) continue;
    parts.push(typeof spec.default === 'boolean' ? key : `${key}=${String(o.options[key])}`);
  }
  if (o.activation !== acc.defaultActivation) parts.push(o.activation);
  if (o.classes !== CLASSES.default) parts.push(`c${o.classes}`);
  return parts.join('-');
}

/** The default ladder, smallest-first within each family. */
export function zooLadder(): BuildOptions[] {
  return FAMILY_SPECS.flatMap((f) => f.ladder.map((o) => ({ ...o, ...(o.options ? { options: { ...o.options } } : {}) })));
}

/** The family and rungs the catalog ladder falls back to when no pretrained model is on disk. */
export function zooFallback(): { family: Family } & NonNullable<FamilySpec['fallback']> {
  const f = FAMILY_SPECS.find((s) => s.fallback);
  if (!f) throw new Error('no zoo family declares the fallback rungs');
  return { family: f.family, ...f.fallback! };
}
