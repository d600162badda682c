import { readFile } from 'node:fs/promises';
import type { EngineFactory } from '../engine.js';
import { graphFromOnnx } from '../../onnx/to-graph.js';
import { EdgefitError, errorMessage } from '../../util/errors.js';
import { TfjsEngine } from './engine.js';

/**
 * Loads an ONNX file from the catalog into TensorFlow.js: the file is read back into a zoo Graph (float models
 * with the ops emitOnnx writes, and QDQ files as the float graph they simulate) and rebuilt as a LayersModel.
 */
export const tfjsEngineFactory: EngineFactory = {
  name: 'tfjs',
  async load(modelPath, options) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(modelPath);
    } catch (err) {
      throw new EdgefitError('E_MODEL_MISSING', `model file ${modelPath} cannot be read (${errorMessage(err)}); run \`edgefit models pull\` or check models.catalog`, { cause: err });
    }
    const { graph, normalize, quantize, clampMax } = graphFromOnnx(bytes, { source: modelPath, resolution: options.resolution });
    return TfjsEngine.load(graph, { ...options, normalize, foldBn: true, ...(quantize ? { quantize } : {}), ...(clampMax ? { clampMax } : {}) });
  },
};
