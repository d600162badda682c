import { EdgefitError } from '../../util/errors.js';
import type { KerasModelConfig } from './h5.js';

/** One Keras layer with the names of the layers whose (first) output it consumes. */
export interface KerasLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inbound: string[];
}

export interface KerasGraph {
  name: string;
  layers: KerasLayer[];
  inputs: string[];
  outputs: string[];
  /** [H, W, C] from the input layer; null where Keras leaves a dimension open */
  inputShape: (number | null)[];
}

/**
 * The one form of a failure the Keras importer has no check for yet (a TypeError on a config of the wrong
 * types, say): a corrupt or foreign model, refused as such with the original error kept.
 */
export function asKerasFormatError(err: unknown, source: string): EdgefitError {
  if (err instanceof EdgefitError) return err;
  return new EdgefitError('E_KERAS_FORMAT', `${source}: cannot convert this Keras model (${err instanceof Error ? err.message : String(err)}); its model_config or weights are corrupt or in a layout edgefit does not read: re-save the model with model.save('x.h5')`, { cause: err });
}

/**
 * Normalises Sequential and Functional configs (Keras 2 and Keras 3 inbound-node formats) into one list of
 * layers in Keras order, each naming its inputs.
 */
export function parseKerasConfig(mc: KerasModelConfig, source: string): KerasGraph {
  try {
    return parseConfig(mc, source);
  } catch (err) {
    throw asKerasFormatError(err, source);
  }
}

function parseConfig(mc: KerasModelConfig, source: string): KerasGraph {
  if (!mc || typeof mc !== 'object') throw new EdgefitError('E_KERAS_FORMAT', `${source}: model_config is not a JSON object; re-save the model with model.save('x.h5')`);
  const cfg = (mc.config ?? {}) as Record<string, unknown> | unknown[];
  const layerList = (v: unknown): RawLayer[] => {
    if (!Array.isArray(v) || !v.every((l) => l && typeof l === 'object' && !Array.isArray(l))) {
      throw new EdgefitError('E_KERAS_FORMAT', `${source}: the ${mc.class_name} model_config has no list of layers; re-save the model with model.save('x.h5')`);
    }
    return v as RawLayer[];
  };
  if (mc.class_name === 'Sequential') {
    const rawLayers = layerList(Array.isArray(cfg) ? cfg : cfg.layers);
    const name = Array.isArray(cfg) ? 'sequential' : String(cfg.name ?? 'sequential');
    const layers: KerasLayer[] = [];
    let inputShape: (number | null)[] | undefined;
    let prev: string | undefined;
    for (const rl of rawLayers) {
      const config = rl.config ?? {};
      const lname = String(config.name ?? rl.name);
      const bis = batchShape(config, source, lname);
      if (rl.class_name === 'InputLayer') {
        inputShape = bis?.slice(1);
        layers.push({ name: lname, className: 'InputLayer', config, inbound: [] });
        prev = lname;
        continue;
      }
      if (!prev) {
        // Sequential models built without an explicit InputLayer carry the shape on the first layer
        if (!bis) throw new EdgefitError('E_KERAS_FORMAT', `${source}: the Sequential model has no input shape; build it with an Input layer and re-save`);
        inputShape = bis.slice(1);
        layers.push({ name: `${lname}_input`, className: 'InputLayer', config: {}, inbound: [] });
        prev = `${lname}_input`;
      }
      layers.push({ name: lname, className: rl.class_name, config, inbound: [prev] });
      prev = lname;
    }
    if (!inputShape || !prev) throw new EdgefitError('E_KERAS_FORMAT', `${source}: empty Sequential model`);
    return { name, layers, inputs: [layers[0]!.name], outputs: [prev], inputShape };
  }
  if (mc.class_name === 'Functional' || mc.class_name === 'Model') {
    const c = cfg as Record<string, unknown>;
    const rawLayers = layerList(c.layers ?? []);
    const layers = rawLayers.map((rl): KerasLayer => {
      const config = rl.config ?? {};
      return { name: String(rl.name ?? config.name), className: rl.class_name, config, inbound: inboundNames(rl, source) };
    });
    const inputs = layerRefs(c.input_layers);
    const outputs = layerRefs(c.output_layers);
    if (inputs.length !== 1) throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: the model has ${inputs.length} inputs; edgefit runs single-image models only`);
    if (outputs.length !== 1) throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: the model has ${outputs.length} outputs; edgefit needs one classification output`);
    const input = layers.find((l) => l.name === inputs[0]);
    const bis = input ? batchShape(input.config, source, input.name) : undefined;
    if (!bis) throw new EdgefitError('E_KERAS_FORMAT', `${source}: input layer ${inputs[0]} has no shape`);
    return { name: String(c.name ?? 'model'), layers, inputs, outputs, inputShape: bis.slice(1) };
  }
  throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: model class ${mc.class_name} is not supported; save a Sequential or Functional model`);
}

/** [N, H, W, C] with open (null) dimensions; anything else is a corrupt config */
function batchShape(config: Record<string, unknown>, source: string, layer: string): (number | null)[] | undefined {
  const v = config.batch_input_shape ?? config.batch_shape;
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((d) => d === null || (Number.isInteger(d) && (d as number) > 0))) {
    throw new EdgefitError('E_KERAS_FORMAT', `${source}: layer ${layer} has input shape ${JSON.stringify(v)}, not a list of sizes; re-save the model with model.save('x.h5')`);
  }
  return v as (number | null)[];
}

interface RawLayer {
  class_name: string;
  name?: string;
  config?: Record<string, unknown>;
  inbound_nodes?: unknown[];
}

function inboundNames(rl: RawLayer, source: string): string[] {
  const nodes = rl.inbound_nodes ?? [];
  if (nodes.length === 0) return [];
  if (nodes.length > 1) {
    throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: layer ${rl.name} (${rl.class_name}) is called ${nodes.length} times (shared layer); edgefit does not import shared layers`);
  }
  const node = nodes[0];
  // Keras 2: [[layerName, nodeIndex, tensorIndex, kwargs], ...]
  if (Array.isArray(node)) return node.map((ref) => String((ref as unknown[])[0]));
  // Keras 3: { args: [ {class_name: '__keras_tensor__', config: {keras_history: [name, n, t]}} | [..] ], kwargs }
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(visit); return; }
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const hist = (o.config as Record<string, unknown> | undefined)?.keras_history;
      if (o.class_name === '__keras_tensor__' && Array.isArray(hist)) { out.push(String(hist[0])); return; }
      if ('args' in o) visit(o.args);
    }
  };
  visit(node);
  return out;
}

function layerRefs(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  // [[name, 0, 0], ...] or a single [name, 0, 0]
  if (typeof v[0] === 'string') return [String(v[0])];
  return v.map((r) => String((r as unknown[])[0]));
}
