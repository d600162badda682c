import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnx } from '../onnx/reader.js';
import { refuseExternalData } from '../onnx/external-data.js';
import type { ValueInfoProto } from '../onnx/proto.js';
import { EdgefitError } from '../util/errors.js';
import type { ImportResult, ModelCard } from './types.js';
import { loadLabels, fitLabels, guessFromName } from './tflite/card.js';

/** Path of the card written beside a model: model.onnx -> model.card.json */
export function cardPathFor(modelPath: string): string {
  return join(dirname(modelPath), `${basename(modelPath, extname(modelPath))}.card.json`);
}

function dims(v: ValueInfoProto | undefined): (number | string)[] {
  return (v?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0)));
}

/**
 * Pass-through import of an existing .onnx: decoded with our reader, refused if any tensor keeps its data in
 * an external file (the model must be one self-contained file: src/onnx/external-data.ts), and loaded once by
 * onnxruntime to prove it runs here.
 * The card comes from `<name>.card.json` beside it when present, else from the graph's input/output shapes.
 */
export async function importOnnx(path: string, opts: { labelsPath?: string } = {}): Promise<ImportResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new EdgefitError('E_IMPORT_READ', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const model = readOnnx(bytes, path);
  const graph = model.graph!;
  // every TensorProto, not only the graph's initializers: Constant attributes, sparse initializers, subgraphs, functions
  refuseExternalData(bytes, path);
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  } catch (err) {
    throw new EdgefitError('E_ONNX_LOAD', `${path}: onnxruntime cannot load this model (${(err as Error).message}); check its opset and operators`, { cause: err });
  } finally {
    await session?.release();
  }

  const inputs = (graph.input ?? []).filter((i) => !(graph.initializer ?? []).some((t) => t.name === i.name));
  if (inputs.length !== 1 || (graph.output ?? []).length !== 1) {
    throw new EdgefitError('E_ONNX_IO', `${path}: has ${inputs.length} inputs and ${(graph.output ?? []).length} outputs; edgefit runs single-input, single-output image classifiers`);
  }
  const inDims = dims(inputs[0]);
  const outDims = dims(graph.output![0]);
  const inType = inputs[0]!.type?.tensorType?.elemType;
  const nhwc = inDims.length === 4 && inDims[3] === 3;
  const nchw = inDims.length === 4 && inDims[1] === 3;
  if (!nhwc && !nchw) throw new EdgefitError('E_ONNX_IO', `${path}: input shape [${inDims.join(',')}] is not an image batch [N,H,W,3] or [N,3,H,W]`);
  const [h, w] = nhwc ? [inDims[1], inDims[2]] : [inDims[2], inDims[3]];
  const classes = Number(outDims[outDims.length - 1]);
  if (!(classes > 0)) throw new EdgefitError('E_ONNX_IO', `${path}: output shape [${outDims.join(',')}] has no fixed class count`);

  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const beside = cardPathFor(path);
  const labels = opts.labelsPath ? await loadLabels(opts.labelsPath) : undefined;
  if (existsSync(beside)) {
    let card: ModelCard;
    try {
      card = JSON.parse(await readFile(beside, 'utf8')) as ModelCard;
    } catch (err) {
      throw new EdgefitError('E_CARD', `cannot read model card ${beside}: ${(err as Error).message}; re-import the model or delete the card`, { cause: err });
    }
    if (card.classes !== classes) throw new EdgefitError('E_CARD', `${beside} says ${card.classes} classes but ${path} outputs ${classes}; re-import the model`);
    if (labels) Object.assign(card, fitLabels(labels, classes, path));
    return { onnx: bytes, card };
  }
  const ops = new Set((graph.node ?? []).map((n) => n.opType));
  const guess = guessFromName(path);
  const fitted = fitLabels(labels, classes, path);
  const card: ModelCard = {
    name: basename(path, extname(path)),
    family: guess.family,
    alpha: guess.alpha,
    resolution: typeof h === 'number' && h === w && h > 0 ? h : guess.resolution,
    anyResolution: typeof h === 'string' && typeof w === 'string',
    precision: ops.has('QuantizeLinear') || ops.has('QLinearConv') || ops.has('ConvInteger') ? 'int8' : 'fp32',
    input: { layout: nhwc ? 'NHWC' : 'NCHW', dtype: inType === 2 ? 'uint8' : 'float32' },
    output: ops.has('Softmax') ? 'probabilities' : 'logits',
    classes,
    background: fitted.background || (!labels && classes === 1001),
    labels: fitted.labels,
    source: { format: 'onnx', file: basename(path), sha256 },
  };
  return { onnx: bytes, card };
}
