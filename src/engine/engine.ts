/** What the daemon needs from an inference runtime; onnxruntime-node and TensorFlow.js implement it. */

export type ProviderName = 'tensorrt' | 'cuda' | 'cpu' | 'wasm' | 'tfjs-node' | 'tfjs-wasm';

export interface EngineOptions {
  /** tried in order; the engine reports which one really runs */
  providers: ProviderName[];
  /** intra-op threads; 0 = runtime default */
  threads: number;
  /** per-run timeout (ms) enforced by the host, not the runtime */
  timeoutMs?: number;
  /** input [1, H, W, 3] for models with symbolic spatial dims (imported GAP models run at any resolution) */
  resolution?: number;
  /** uint8/int8 outputs are dequantized as (q - zeroPoint) * scale; float outputs are passed through */
  outputScale?: number;
  outputZeroPoint?: number;
  /** TensorRT engine cache and FP16 (Jetson) */
  trtCacheDir?: string;
  trtFp16?: boolean;
  /** a custom onnxruntime build (a Jetson's CUDA/TensorRT binding); default: the bundled onnxruntime-node */
  ortLibraryPath?: string;
}

export interface ModelIO {
  inputName: string;
  /** e.g. [1, 160, 160, 3] for uint8 NHWC pixels */
  inputShape: number[];
  inputType: 'uint8' | 'float32';
  outputName: string;
  outputShape: number[];
}

export interface RunResult {
  /**
   * scores (probabilities or logits as the model outputs them), one per class. The array is owned by the engine
   * and reused by the next run: copy what must outlive it.
   */
  scores: Float32Array;
  /** ms spent inside the runtime */
  inferMs: number;
}

export interface Engine {
  readonly name: string;
  /** the provider that actually runs the model, verified after load */
  readonly provider: ProviderName;
  /** providers tried before the one that runs, with the reason each was refused */
  readonly refused: { provider: ProviderName; reason: string }[];
  readonly io: ModelIO;
  /** runs on one frame: uint8 RGB HWC at the model's resolution */
  run(frame: Uint8Array): Promise<RunResult>;
  close(): Promise<void>;
}

export interface EngineFactory {
  readonly name: string;
  load(modelPath: string, options: EngineOptions): Promise<Engine>;
}
