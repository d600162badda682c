// The TensorFlow.js engine's public surface; only re-exports.
export { TfjsEngine, DEFAULT_TFJS_PROVIDERS, type TfjsEngineOptions } from './engine.js';
export { buildTfjsModel, type TfjsModel, type TfjsModelOptions } from './model.js';
export { initTfjsBackend, type TfjsBackend, type BackendChoice } from './backend.js';
export { tfjsEngineFactory } from './factory.js';
