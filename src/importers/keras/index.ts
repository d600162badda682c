// The Keras importer's public surface; only re-exports.
export { importKeras, importKerasFloat, type KerasFloatImport, type KerasImportOptions } from './import-keras.js';
export type { KerasWeights, KerasVar } from './h5.js';
export type { KerasGraph, KerasLayer } from './config.js';
