/** What the daemon needs from an inference runtime; onnxruntime-node and TensorFlow.js implement it. */

export type ProviderName = 'tensorrt' | 'cuda' | 'cpu' | 'wasm' | 'tfjs-node' | 'tfjs-wasm';

export interface EngineOptions {
  /** tried in order; the engine reports which one really runs */
  providers: ProviderName[];
  /** intra-op threads; 0 = runtime default */
  threads: number;
  /** per-run timeout (ms) enforced by the host, not the runtime */
  timeoutMs?: number;
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
  /** scores (probabilities or logits as the model outputs them), one per class */
  scores: Float32Array;
  /** ms spent inside the runtime */
  inferMs: number;
}

export interface Engine {
  readonly name: string;
  /** the provider that actually runs the model, verified after load */
  readonly provider: ProviderName;
  readonly io: ModelIO;
  /** runs on one frame: uint8 RGB HWC at the model's resolution */
  run(frame: Uint8Array): Promise<RunResult>;
  close(): Promise<void>;
}

export interface EngineFactory {
  readonly name: string;
  load(modelPath: string, options: EngineOptions): Promise<Engine>;
}
