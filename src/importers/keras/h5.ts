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
    const root = file.get('model_weights');
    if (!root || !('keys' in root)) {
      throw new EdgefitError('E_KERAS_FORMAT', `${path} has no model_weights group; save the whole model with model.save('x.h5')`);
    }
    const groupRoot = root as unknown as H5Group;
    const layerNames = attrStrings(groupRoot.attrs['layer_names']?.value) ?? groupRoot.keys();
    for (const layer of layerNames) {
      const g = file.get(`model_weights/${layer}`) as unknown as H5Group | null;
      if (!g) continue;
      const names = attrStrings(g.attrs['weight_names']?.value) ?? [];
      const vars = new Map<string, KerasVar>();
      for (const wn of names) {
        const ds = file.get(`model_weights/${layer}/${wn}`) as unknown as H5Dataset | null;
        if (!ds || !ds.shape) throw new EdgefitError('E_KERAS_FORMAT', `${path}: weight ${wn} of layer ${layer} is listed but missing`);
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
