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
 * Normalises Sequential and Functional configs (Keras 2 and Keras 3 inbound-node formats) into one list of
 * layers in Keras order, each naming its inputs.
 */
export function parseKerasConfig(mc: KerasModelConfig, source: string): KerasGraph {
  const cfg = mc.config as Record<string, unknown> | unknown[];
  if (mc.class_name === 'Sequential') {
    const rawLayers = (Array.isArray(cfg) ? cfg : (cfg.layers as unknown[])) as RawLayer[];
    const name = Array.isArray(cfg) ? 'sequential' : String(cfg.name ?? 'sequential');
    const layers: KerasLayer[] = [];
    let inputShape: (number | null)[] | undefined;
    let prev: string | undefined;
    for (const rl of rawLayers) {
      const config = rl.config ?? {};
      const lname = String(config.name ?? rl.name);
      const bis = (config.batch_input_shape ?? config.batch_shape) as (number | null)[] | undefined;
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
    const rawLayers = (c.layers ?? []) as RawLayer[];
    const layers = rawLayers.map((rl): KerasLayer => {
      const config = rl.config ?? {};
      return { name: String(rl.name ?? config.name), className: rl.class_name, config, inbound: inboundNames(rl, source) };
    });
    const inputs = layerRefs(c.input_layers);
    const outputs = layerRefs(c.output_layers);
    if (inputs.length !== 1) throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: the model has ${inputs.length} inputs; edgefit runs single-image models only`);
    if (outputs.length !== 1) throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: the model has ${outputs.length} outputs; edgefit needs one classification output`);
    const input = layers.find((l) => l.name === inputs[0]);
    const bis = (input?.config.batch_input_shape ?? input?.config.batch_shape) as (number | null)[] | undefined;
    if (!bis) throw new EdgefitError('E_KERAS_FORMAT', `${source}: input layer ${inputs[0]} has no shape`);
    return { name: String(c.name ?? 'model'), layers, inputs, outputs, inputShape: bis.slice(1) };
  }
  throw new EdgefitError('E_KERAS_UNSUPPORTED', `${source}: model class ${mc.class_name} is not supported; save a Sequential or Functional model`);
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
