// The TFLite importer's public surface; only re-exports.
export { importTflite, convertTflite, DEFAULT_EMIT, type TfliteImportOptions } from './import-tflite.js';
export type { EmitMode } from './emit.js';
