import { tf, initTfjsBackend, type TfjsBackend } from './backend.js';
import { buildTfjsModel } from './model.js';
import type { Engine, EngineOptions, ModelIO, ProviderName, RunResult } from '../engine.js';
import type { Graph } from '../../zoo/graph.js';
import { DEFAULT_NORMALIZE } from '../../onnx/emit.js';
import { EdgefitError } from '../../util/errors.js';
import type { FakeQuant } from '../../onnx/dequantize-qdq.js';

export interface TfjsEngineOptions extends Partial<EngineOptions> {
  /** network input = pixel * scale + offset; default MobileNet style p/127.5 - 1 (as emitOnnx) */
  normalize?: { scale: number[] | number; offset: number[] | number };
  output?: 'logits' | 'probabilities';
  /** default true: one conv instead of conv + BN */
  foldBn?: boolean;
  /** a QDQ model's activation grids (graphFromOnnx) */
  quantize?: ReadonlyMap<string, FakeQuant>;
  /** Clip(0, max) tops other than 6 (graphFromOnnx) */
  clampMax?: ReadonlyMap<string, number>;
}

/**
 * Provider names of the Engine interface -> tfjs backends. 'cpu' means tfjs's plain-JS backend here: slow, but it
 * runs everywhere.
 */
const BACKEND_OF: Partial<Record<ProviderName, TfjsBackend>> = { 'tfjs-node': 'tfjs-node', 'tfjs-wasm': 'tfjs-wasm', cpu: 'tfjs-cpu' };
const PROVIDER_OF: Record<TfjsBackend, ProviderName> = { 'tfjs-node': 'tfjs-node', 'tfjs-wasm': 'tfjs-wasm', 'tfjs-cpu': 'cpu' };
export const DEFAULT_TFJS_PROVIDERS: ProviderName[] = ['tfjs-node', 'tfjs-wasm', 'cpu'];

/** A zoo Graph run by TensorFlow.js: uint8 RGB HWC frames in, scores out, as the onnxruntime engine. */
export class TfjsEngine implements Engine {
  readonly name = 'tfjs';
  private readonly scores: Float32Array;
  private closed = false;

  private constructor(
    private readonly model: tf.LayersModel,
    readonly provider: ProviderName,
    readonly refused: { provider: ProviderName; reason: string }[],
    readonly io: ModelIO,
    private readonly scale: tf.Tensor,
    private readonly offset: tf.Tensor,
  ) {
    this.scores = new Float32Array(io.outputShape[1]!);
  }

  static async load(graph: Graph, opts: TfjsEngineOptions = {}): Promise<TfjsEngine> {
    const [C, H, W] = graph.input.shape;
    if (C !== 3) throw new EdgefitError('E_MODEL_IO', `the TensorFlow.js engine feeds RGB frames; this graph takes ${C} channels`);
    const norm = opts.normalize ?? DEFAULT_NORMALIZE;
    const vec = (v: number[] | number, what: string): number[] => {
      const a = typeof v === 'number' ? [v, v, v] : v.length === 1 ? [v[0]!, v[0]!, v[0]!] : v;
      if (a.length !== 3 || !a.every(Number.isFinite)) throw new EdgefitError('E_OPTIONS', `normalize.${what} must be one finite number or three (R, G, B), got ${JSON.stringify(v)}`);
      return a;
    };
    const scale = vec(norm.scale, 'scale');
    const offset = vec(norm.offset, 'offset');

    const refused: { provider: ProviderName; reason: string }[] = [];
    const order: TfjsBackend[] = [];
    for (const p of opts.providers?.length ? opts.providers : DEFAULT_TFJS_PROVIDERS) {
      const b = BACKEND_OF[p];
      if (b) order.push(b);
      else refused.push({ provider: p, reason: 'not a TensorFlow.js provider' });
    }
    const choice = await initTfjsBackend(order);
    for (const r of choice.refused) refused.push({ provider: PROVIDER_OF[r.backend], reason: r.reason });
    // verify: tfjs keeps one backend per process, another engine may have set a different one
    const running = tf.getBackend();
    const provider = running === 'tensorflow' ? 'tfjs-node' : running === 'wasm' ? 'tfjs-wasm' : running === 'cpu' ? 'cpu' : undefined;
    if (!provider) throw new EdgefitError('E_TFJS_BACKEND', `TensorFlow.js runs on backend ${running}, which edgefit does not use; list tfjs-node, tfjs-wasm or cpu in engine.providers`);

    const { model, outputKind } = buildTfjsModel(graph, { output: opts.output, foldBn: opts.foldBn ?? true, ...(opts.quantize ? { quantize: opts.quantize } : {}), ...(opts.clampMax ? { clampMax: opts.clampMax } : {}) });
    const io: ModelIO = {
      inputName: 'pixels',
      inputShape: [1, H, W, 3],
      inputType: 'uint8',
      outputName: outputKind,
      outputShape: [1, graph.meta.classes],
    };
    return new TfjsEngine(model, provider, refused, io, tf.tensor1d(scale), tf.tensor1d(offset));
  }

  async run(frame: Uint8Array): Promise<RunResult> {
    if (this.closed) throw new EdgefitError('E_ENGINE_CLOSED', 'the TensorFlow.js engine was closed; load the model again');
    const [, h, w] = this.io.inputShape as [number, number, number, number];
    if (!(frame instanceof Uint8Array) || frame.length !== h * w * 3) {
      throw new EdgefitError('E_FRAME_SIZE', `frame has ${(frame as Uint8Array)?.length ?? 'no'} bytes, the model wants ${h}x${w}x3 = ${h * w * 3}`);
    }
    const t0 = performance.now();
    // cast and normalise as tensor ops (in the backend), never per pixel in JS
    const y = tf.tidy(() => {
      const x = tf.tensor4d(frame, [1, h, w, 3], 'int32').toFloat().mul(this.scale).add(this.offset);
      return this.model.predict(x) as tf.Tensor;
    });
    try {
      this.scores.set(await y.data() as Float32Array);
    } finally {
      y.dispose();
    }
    return { scores: this.scores, inferMs: performance.now() - t0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.model.dispose();
    this.scale.dispose();
    this.offset.dispose();
  }
}
