import * as ort from 'onnxruntime-node';
import { readOnnx } from '../onnx/reader.js';
import { importModel, type ImportOptions } from '../importers/index.js';
import type { ModelCard } from '../importers/types.js';
import { loadImageRgb } from '../image/load.js';
import { EdgefitError } from '../util/errors.js';
import { topK, type TopKEntry } from './topk.js';

export interface Classifier {
  readonly card: ModelCard;
  readonly resolution: number;
  /** scores of the last run as probabilities (or logits, per card.output); reused by the next run */
  classifyPixels(pixels: Uint8Array): Promise<Float32Array>;
  classifyFile(path: string, k: number): Promise<TopKEntry[]>;
  close(): Promise<void>;
}

/**
 * Loads any model edgefit imports (.onnx with its card, or .tflite / .h5 converted on the fly) for one-off
 * classification of image files: the input is uint8 RGB NHWC pixels at `resolution`.
 */
export async function loadClassifier(modelPath: string, opts: ImportOptions & { resolution?: number } = {}): Promise<Classifier> {
  const { onnx, card } = await importModel(modelPath, opts);
  const model = readOnnx(onnx, modelPath);
  const graph = model.graph!;
  const input = (graph.input ?? []).find((i) => !(graph.initializer ?? []).some((t) => t.name === i.name))!;
  const output = graph.output![0]!;
  const inDims = (input.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0)));
  if (input.type?.tensorType?.elemType !== 2 || inDims.length !== 4 || inDims[3] !== 3) {
    throw new EdgefitError('E_MODEL_INPUT', `${modelPath}: input is not uint8 [1,H,W,3] pixels; import the model with edgefit so the preprocessing is inside it`);
  }
  const fixed = typeof inDims[1] === 'number' && inDims[1] > 0 ? inDims[1] : undefined;
  if (opts.resolution !== undefined && (!Number.isInteger(opts.resolution) || opts.resolution < 8 || opts.resolution > 4096)) {
    throw new EdgefitError('E_ARGS', `resolution ${opts.resolution} is not an integer between 8 and 4096`);
  }
  if (fixed !== undefined && opts.resolution !== undefined && opts.resolution !== fixed) {
    throw new EdgefitError('E_ARGS', `${modelPath} has a fixed ${fixed}x${fixed} input; drop --resolution or use a model that runs at any resolution`);
  }
  const resolution = opts.resolution ?? fixed ?? card.resolution;
  if (!resolution) throw new EdgefitError('E_ARGS', `${modelPath} runs at any resolution and its card names none; pass --resolution N`);

  // Quantized outputs: (q - zp) * scale, from the importer's metadata; plain uint8 softmax outputs are q/256.
  const meta = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key, p.value]));
  const outType = output.type?.tensorType?.elemType;
  const scale = meta['edgefit.output.scale'] !== undefined ? Number(meta['edgefit.output.scale']) : 1 / 256;
  const zp = meta['edgefit.output.zero_point'] !== undefined ? Number(meta['edgefit.output.zero_point']) : outType === 3 ? -128 : 0;
  const session = await ort.InferenceSession.create(onnx, { logSeverityLevel: 3 });
  const scores = new Float32Array(card.classes);
  const shape = [1, resolution, resolution, 3];
  const inputName = input.name!;
  const outputName = output.name!;

  const classifyPixels = async (pixels: Uint8Array): Promise<Float32Array> => {
    const out = await session.run({ [inputName]: new ort.Tensor('uint8', pixels, shape) });
    const data = out[outputName]!.data as Float32Array | Uint8Array | Int8Array;
    if (data.length !== scores.length) throw new EdgefitError('E_MODEL_OUTPUT', `${modelPath}: output has ${data.length} values, the card says ${scores.length} classes`);
    if (data instanceof Float32Array) scores.set(data);
    else for (let i = 0; i < data.length; i++) scores[i] = (data[i]! - zp) * scale;
    return scores;
  };
  return {
    card,
    resolution,
    classifyPixels,
    async classifyFile(path: string, k: number): Promise<TopKEntry[]> {
      return topK(await classifyPixels(await loadImageRgb(path, resolution)), k, card.labels);
    },
    close: () => session.release(),
  };
}
