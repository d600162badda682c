import type { NodeProto } from '../onnx/proto.js';
import { readOnnx } from '../onnx/reader.js';

/**
 * Weights per output channel up to which a layer's re-rounded channels are rounded adaptively. The search needs
 * the layer's input second moments, D x D per layer from up to 64 D patches per frame set: D^3 work, 0.1-0.5 s
 * per layer at 256 in JavaScript, minutes for MobileNet-v2's 960-wide layers. The small models, whose every layer
 * is under it, are the ones that need it (their re-rounded weights moved the output most); wider layers keep
 * nearest rounding with bias correction.
 */
export const ADAPTIVE_MAX_WEIGHTS = 256;

/**
 * Adaptive rounding (src/quant/adaround.ts) for the 's8-requant' weight form of an int8 TFLite file: the float
 * twin of the model (the same real weights, dequantized) is run on the device's frames to collect each layer's
 * input second moments, and each weight's floor or ceiling at the requantized scale is chosen to minimise the
 * layer's output error, instead of the nearest. The importer takes these integers only for the channels it
 * re-rounds (signedRequant); channels that fit int8 stay exact. Whether the result is faithful enough is still
 * decided by the weight-form check on the frames (decideWeightForm), never assumed. Returns the integers of each
 * rounded conv's weights by the importer's prefix (the float twin's node name).
 */
export async function requantRounding(bytes: Uint8Array, path: string, frames: Uint8Array[], resolution: number, qmax: number): Promise<Map<string, Int8Array>> {
  const { convertTflite } = await import('../importers/tflite/index.js');
  const { collectLayerInputs, roundAdaptively } = await import('../quant/adaround.js');
  const twin = readOnnx(convertTflite(bytes, path, { emit: 'float' }).onnx);
  const dims = new Map((twin.graph?.initializer ?? []).map((t) => [t.name ?? '', (t.dims ?? []).map(Number)]));
  const weighted = (twin.graph?.node ?? []).filter((n: NodeProto) => {
    const d = dims.get(n.input?.[1] ?? '');
    return n.opType === 'Conv' && !!n.name && d !== undefined && d.length === 4 && d[1]! * d[2]! * d[3]! <= ADAPTIVE_MAX_WEIGHTS;
  });
  if (weighted.length === 0 || frames.length === 0) return new Map();
  const inputs = await collectLayerInputs(twin, weighted, frames, resolution);
  return roundAdaptively(inputs, () => qmax).rounded;
}
