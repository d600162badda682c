import h5wasm from 'h5wasm/node';
import { EdgefitError } from '../../util/errors.js';

/** One Keras variable as stored in the .h5: shape as Keras saw it (e.g. conv kernel HWIO), values as float32. */
export interface KerasVar {
  shape: number[];
  data: Float32Array;
}

/** layer name -> variable name without ":0" (kernel, bias, depthwise_kernel, gamma, moving_mean, ...) -> value */
export type KerasWeights = Map<string, Map<string, KerasVar>>;

export interface KerasH5 {
  /** the parsed `model_config` attribute */
  config: KerasModelConfig;
  weights: KerasWeights;
  kerasVersion?: string;
}

export interface KerasModelConfig {
  class_name: string;
  config: unknown;
}

let ready: Promise<unknown> | undefined;

/** Reads the architecture and every weight of a Keras 2 (TF 2.x) whole-model .h5 file. */
export async function readKerasH5(path: string): Promise<KerasH5> {
  ready ??= h5wasm.ready;
  await ready;
  let file: InstanceType<typeof h5wasm.File>;
  try {
    file = new h5wasm.File(path, 'r');
  } catch (err) {
    throw new EdgefitError('E_KERAS_READ', `cannot open ${path} as HDF5 (${(err as Error).message}); give a Keras .h5 saved with model.save('x.h5')`, { cause: err });
  }
  try {
    const raw = attrString(file.attrs['model_config']?.value);
    if (!raw) {
      throw new EdgefitError('E_KERAS_FORMAT', `${path} has no model_config attribute: it holds weights only (save_weights) or is not a Keras model; save the whole model with model.save('x.h5')`);
    }
    let config: KerasModelConfig;
    try {
      config = JSON.parse(raw) as KerasModelConfig;
    } catch (err) {
      throw new EdgefitError('E_KERAS_FORMAT', `${path}: model_config is not valid JSON; re-save the model`, { cause: err });
    }
    const weights: KerasWeights = new Map();
    const local = new LocalPaths(file, path);
    const rootPath = local.resolve('model_weights');
    const root = rootPath === null ? null : file.get(rootPath);
    if (!root || !('keys' in root)) {
      throw new EdgefitError('E_KERAS_FORMAT', `${path} has no model_weights group; save the whole model with model.save('x.h5')`);
    }
    const groupRoot = root as unknown as H5Group;
    const layerNames = attrStrings(groupRoot.attrs['layer_names']?.value) ?? groupRoot.keys();
    for (const layer of layerNames) {
      const layerPath = local.resolve(`model_weights/${layer}`);
      const g = layerPath === null ? null : file.get(layerPath) as unknown as H5Group | null;
      if (!g) continue;
      const names = attrStrings(g.attrs['weight_names']?.value) ?? [];
      const vars = new Map<string, KerasVar>();
      for (const wn of names) {
        const dsPath = local.resolve(`model_weights/${layer}/${wn}`);
        const ds = dsPath === null ? null : file.get(dsPath) as unknown as H5Dataset | null;
        if (!ds || !ds.shape) throw new EdgefitError('E_KERAS_FORMAT', `${path}: weight ${wn} of layer ${layer} is listed but missing`);
        if (ds.metadata?.virtual_sources?.length) throw notLocal(path, dsPath!, 'a virtual dataset, whose values come from other files');
        const value = ds.value;
        const data = value instanceof Float32Array ? value : Float32Array.from(value as ArrayLike<number>);
        const short = (wn.split('/').pop() ?? wn).replace(/:\d+$/, '');
        vars.set(short, { shape: ds.shape.slice(), data });
      }
      weights.set(layer, vars);
    }
    return { config, weights, kerasVersion: attrString(file.attrs['keras_version']?.value) };
  } catch (err) {
    if (err instanceof EdgefitError) throw err;
    // h5wasm opens a truncated or corrupt file without complaint and fails on the first read with a bare Error
    throw new EdgefitError('E_KERAS_READ', `${path} is not a readable HDF5 file (${(err as Error).message}); it is truncated or corrupt: copy it again or re-save it with model.save('x.h5')`, { cause: err });
  } finally {
    try { file.close(); } catch { /* a file that never opened has nothing to close */ }
  }
}

interface H5Group {
  attrs: Record<string, { value: unknown } | undefined>;
  keys(): string[];
}
interface H5Dataset {
  shape: number[] | null;
  value: unknown;
  metadata?: { virtual_sources?: unknown[] };
}

function notLocal(source: string, at: string, what: string): EdgefitError {
  return new EdgefitError('E_KERAS_FORMAT', `${source}: ${at} is ${what}; edgefit reads a model from its own file only. Re-save the model with its weights inside the file (model.save('x.h5'))`);
}

/**
 * HDF5 links may name objects in other files (external links): h5wasm resolves them on every get and get_type,
 * opening whatever path the model names (a FIFO blocks the synchronous read forever). A model file must not make
 * edgefit read other files, and model.save writes hard links only, so each path is walked from the root one
 * component at a time: a component must be listed by its (already checked) parent group and be neither an
 * external nor a soft link (a soft link can lead through an external one) before anything resolves it.
 * Link queries are made only on listed names: on a missing name h5wasm reports uninitialised link info.
 * Not covered: HDF5's external raw storage (a dataset whose values live in other files, H5Pset_external), which
 * h5wasm does not show; catalog models are converted in an isolated child with a time limit, so there such a
 * file costs a failed pull, while `edgefit import` of an untrusted .h5 runs in the caller's process.
 */
class LocalPaths {
  private readonly names = new Map<string, Set<string>>();
  constructor(private readonly file: InstanceType<typeof h5wasm.File>, private readonly source: string) {}

  /** the normalised path, or null when a component is missing or lies below a dataset */
  resolve(path: string): string | null {
    let at = '';
    for (const part of path.split('/').filter((p) => p !== '' && p !== '.')) {
      if (!this.children(at).has(part)) return null;
      const next = at === '' ? part : `${at}/${part}`;
      const ext = this.file.get_external_link(next) as { filename?: string } | undefined;
      if (ext?.filename !== undefined) throw notLocal(this.source, next, `an external link to ${JSON.stringify(ext.filename)}`);
      const soft = this.file.get_link(next) as string | null;
      if (soft !== null && soft !== undefined) throw notLocal(this.source, next, `a soft link to ${JSON.stringify(soft)}`);
      at = next;
    }
    return at;
  }

  private children(group: string): Set<string> {
    let set = this.names.get(group);
    if (!set) {
      const g = group === '' ? this.file : this.file.get(group);
      set = new Set(g && 'keys' in g ? g.keys() : []);
      this.names.set(group, set);
    }
    return set;
  }
}

function attrString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

function attrStrings(v: unknown): string[] | undefined {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object' && 'length' in v && (v as ArrayLike<unknown>).length === 0) return [];
  return undefined;
}
