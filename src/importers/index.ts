// The importers' public surface; only re-exports.
export { importModel, type ImportOptions } from './import-model.js';
export type { ImportResult, ModelCard } from './types.js';
