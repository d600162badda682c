/** What the daemon needs from an inference runtime; onnxruntime-node and TensorFlow.js implement it. */

import type { ProviderName } from '../types/provider.js';

export type { ProviderName } from '../types/provider.js';

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
  /**
   * where onnxruntime's optimized graph of a CPU model is kept between loads (src/engine/optimized-model.ts):
   * loading it skips the optimizer and leaves the process smaller; unset = optimize at every load
   */
  optimizedCacheDir?: string;
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

/** One answer of a FrameStream. `scores` is valid only during the callback: copy what must outlive it. */
export interface StreamResult {
  seq: number;
  /** the frame's arrival time as offered (ms since the epoch) */
  ts: number;
  scores: Float32Array;
  inferMs: number;
  /** when the runtime took the frame (ms since the epoch, sub-millisecond) */
  startedAt: number;
}

export interface StreamSink {
  result(r: StreamResult): void;
  error(err: Error, seq: number, ts: number): void;
}

/**
 * Latest-frame-wins feeding of an engine: frames are offered as they arrive, the engine runs the newest one
 * whenever it becomes free, and answers through the sink. An engine in a worker thread takes its next frame
 * itself, without waiting for the main thread, so the hop between threads costs no inference time.
 */
export interface FrameStream {
  /** copies the frame in; returns true when a frame was dropped for it (an older one not yet started, or this one) */
  offer(frame: Uint8Array, seq: number, ts: number): boolean;
  /** withdraws the offered frame that has not started; true when there was one */
  cancel(): boolean;
  /** resolves once nothing is offered or running */
  idle(): Promise<void>;
  /** detaches the sink; frames still running answer nowhere */
  close(): void;
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
  /** a native FrameStream; engines without one are fed by `frameStream()` (src/engine/run-stream.ts) over run() */
  stream?(sink: StreamSink): FrameStream;
  close(): Promise<void>;
}

/** What a supervisor counts about an engine it keeps running (restarts of its worker, runs past the timeout). */
export interface SupervisedEngineStats {
  runs: number;
  timeouts: number;
  crashes: number;
  restarts: number;
  degraded: boolean;
}

/**
 * An Engine kept alive by a supervisor (src/engine/host.ts): its statistics and events are part of the type,
 * so the daemon reads them without knowing the class. Events carry the reason: 'restart' (worker replaced),
 * 'degraded' (restart budget spent, runs refused), 'crash' (the worker died).
 */
export interface SupervisedEngine extends Engine {
  readonly stats: Readonly<SupervisedEngineStats>;
  on(event: 'restart' | 'degraded' | 'crash', listener: (why: string) => void): this;
}

export interface EngineFactory {
  readonly name: string;
  load(modelPath: string, options: EngineOptions): Promise<Engine>;
}
