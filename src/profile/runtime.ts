import { join } from 'node:path';
import type { Config } from '../config/types.js';

/**
 * The onnxruntime a measurement runs on: the one the engine will run the model on (engine.ortLibraryPath, and
 * TensorRT's FP16 and engine cache as src/daemon/engine-service.ts gives them to the engine). The profiler's child
 * loads that library (loadOrtBinding, as the engine's worker does) and creates the session with the engine's options
 * (modelSessionOptions); the cache key's runtime names it (runtimeVersion in cache.ts).
 */
export interface OrtRuntime {
  /** engine.ortLibraryPath: '' for the bundled onnxruntime-node */
  ortLibraryPath: string;
  /** engine.trtFp16: TensorRT may build FP16 engines (only the tensorrt provider's figures depend on it) */
  trtFp16: boolean;
  /** TensorRT's engine cache: the engine's <stateDir>/trt-cache, so an engine built while profiling is the daemon's too */
  trtCacheDir?: string;
}

/** The bundled onnxruntime-node with TensorRT's defaults: what is measured when nothing else is configured. */
export const BUNDLED_RUNTIME: Readonly<OrtRuntime> = Object.freeze({ ortLibraryPath: '', trtFp16: false });

/** The runtime the engine of this configuration runs on. */
export function runtimeOf(config: Pick<Config, 'engine' | 'stateDir'>): OrtRuntime {
  return {
    ortLibraryPath: config.engine.ortLibraryPath.trim(),
    trtFp16: config.engine.trtFp16,
    ...(config.stateDir ? { trtCacheDir: join(config.stateDir, 'trt-cache') } : {}),
  };
}

/**
 * onnxruntime-node forwards no TensorRT provider options, but the TensorRT EP also reads these variables (from the
 * process environment, so they are set on the main thread before an engine's worker loads): FP16 and the engine
 * cache. The daemon sets them before its engine loads, the profiler's child before it measures, alike.
 */
export function setTensorrtEnvironment(r: OrtRuntime): void {
  process.env.ORT_TENSORRT_FP16_ENABLE = r.trtFp16 ? '1' : '0';
  if (r.trtCacheDir) {
    process.env.ORT_TENSORRT_ENGINE_CACHE_ENABLE = '1';
    process.env.ORT_TENSORRT_CACHE_PATH = r.trtCacheDir;
  }
}
