import { join } from 'node:path';
import type { Config } from '../config/types.js';

/**
 * onnxruntime-node forwards no TensorRT provider options, but the TensorRT EP also reads these variables (from
 * the process environment, so they are set on the main thread, before the engine's worker loads).
 */
export function setTensorrtEnvironment(config: Config): void {
  process.env.ORT_TENSORRT_ENGINE_CACHE_ENABLE = '1';
  process.env.ORT_TENSORRT_CACHE_PATH = join(config.stateDir, 'trt-cache');
  process.env.ORT_TENSORRT_FP16_ENABLE = config.engine.trtFp16 ? '1' : '0';
}
