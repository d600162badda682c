import { extname } from 'node:path';
import { EdgefitError } from '../util/errors.js';
import type { ImportResult } from './types.js';
import type { EmitMode } from './tflite/emit.js';
import type { TfliteImportOptions } from './tflite/import-tflite.js';

export interface ImportOptions extends Pick<TfliteImportOptions, 'weightForm' | 'requantQmax' | 'requantScope'> {
  labelsPath?: string;
  /** TFLite only: 'qdq' (default), 'qlinear' or 'float' */
  emit?: EmitMode;
  /** Keras only: float input = pixel * scale + offset, overriding what the importer infers */
  scale?: number;
  offset?: number;
}

/** Imports a model file by its type: .tflite, .onnx (validated pass-through) or Keras .h5. */
export async function importModel(path: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.tflite': {
      const { importTflite } = await import('./tflite/index.js');
      return importTflite(path, opts);
    }
    case '.onnx': {
      const { importOnnx } = await import('./onnx.js');
      return importOnnx(path, { labelsPath: opts.labelsPath });
    }
    case '.h5':
    case '.hdf5':
    case '.keras': {
      // Loaded on demand: the Keras importer is a separate module (and pulls in h5wasm).
      let mod: typeof import('./keras/index.js');
      try {
        mod = await import('./keras/index.js');
      } catch (err) {
        throw new EdgefitError('E_IMPORT_FORMAT', `this build of edgefit has no Keras importer (${(err as Error).message}); convert the model to .tflite or .onnx first`, { cause: err });
      }
      if (typeof mod.importKeras !== 'function') throw new EdgefitError('E_IMPORT_FORMAT', 'the Keras importer module does not export importKeras; convert the model to .tflite or .onnx first');
      return mod.importKeras(path, {
        ...(opts.labelsPath ? { labelsPath: opts.labelsPath } : {}),
        ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
        ...(opts.offset !== undefined ? { offset: opts.offset } : {}),
      });
    }
    default:
      throw new EdgefitError('E_IMPORT_FORMAT', `cannot import "${path}": unknown model type "${ext || '(none)'}"; edgefit imports .tflite, .onnx and Keras .h5 files`);
  }
}
