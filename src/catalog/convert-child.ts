import { convertOnce } from './convert.js';
import type { ConvertMode } from './store.js';
import { serveIsolated } from '../util/isolated-main.js';

// Runs in a child process (src/catalog/convert-isolated.ts): parses an untrusted model file (flatbuffers, HDF5,
// protobuf) and writes its ONNX conversion, so a converter that crashes, hangs or balloons ends this process.
serveIsolated(({ stateDir, sourcePath, sourceSha256, labelsPath, mode }: { stateDir: string; sourcePath: string; sourceSha256: string; labelsPath?: string; mode: ConvertMode }) =>
  convertOnce(stateDir, sourcePath, sourceSha256, labelsPath, mode), 'E_CONVERT');
