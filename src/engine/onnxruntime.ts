import * as bundledOrt from 'onnxruntime-node';
import type * as OrtTypes from 'onnxruntime-node';
import { loadOrtBinding, modelSessionOptions, type OrtNodeModule } from './ort-binding.js';
import { stat } from 'node:fs/promises';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { readOnnxMetadata } from '../util/onnx-metadata.js';
import { dropOptimized, optimizedModel } from './optimized-model.js';
import type { Engine, EngineFactory, EngineOptions, ModelIO, ProviderName, RunResult } from './engine.js';

/**
 * Creates a session with the first provider of the chain that really loads. Each provider is tried alone:
 * onnxruntime-node 1.30 throws when a requested provider's library is missing, older builds only warn and
 * run on the CPU, so a session created with [p] alone is the proof that p is in use.
 */
export async function createSessionWithChain(
  model: Uint8Array | string,
  opts: EngineOptions,
  ort: OrtNodeModule = bundledOrt,
  /** 'disabled' for a graph onnxruntime already optimized (src/engine/optimized-model.ts) */
  optimization: 'all' | 'disabled' = 'all',
): Promise<{ session: OrtTypes.InferenceSession; provider: ProviderName; refused: { provider: ProviderName; reason: string }[] }> {
  const refused: { provider: ProviderName; reason: string }[] = [];
  const chain = opts.providers.length > 0 ? opts.providers : (['cpu'] as ProviderName[]);
  for (const p of chain) {
    if (p !== 'cpu' && p !== 'cuda' && p !== 'tensorrt') {
      refused.push({ provider: p, reason: 'not an onnxruntime provider' });
      continue;
    }
    try {
      // the same options the profiler measured it with (its child uses this function too)
      const options = modelSessionOptions(p, {
        threads: opts.threads, optimization,
        ...(opts.trtCacheDir ? { trtCacheDir: opts.trtCacheDir } : {}), ...(opts.trtFp16 ? { trtFp16: true } : {}),
      });
      // a path lets onnxruntime read the file itself (and find external data beside it)
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      return { session, provider: p, refused };
    } catch (err) {
      refused.push({ provider: p, reason: errorMessage(err).split('\n')[0]!.slice(0, 300) });
    }
  }
  const detail = refused.map((r) => `${r.provider}: ${r.reason}`).join('; ');
  throw new EdgefitError('E_ENGINE_LOAD', `onnxruntime could not load the model with any provider of [${chain.join(', ')}] (${detail}); check the model file and engine.providers`);
}

/** A CPU-only chain on the bundled runtime loads the cached optimized graph when it can, else the model itself. */
async function openSession(modelPath: string, opts: EngineOptions, ort: OrtNodeModule): ReturnType<typeof createSessionWithChain> {
  const cpuOnly = opts.providers.every((p) => p === 'cpu') && !opts.ortLibraryPath;
  if (opts.optimizedCacheDir && cpuOnly) {
    const warn = (msg: string) => process.emitWarning(msg, { code: 'EDGEFIT_ORT_OPTIMIZED' });
    const pre = await optimizedModel(modelPath, opts.optimizedCacheDir, ortVersion(), warn);
    if (pre) {
      try {
        return await createSessionWithChain(pre, opts, ort, 'disabled');
      } catch (err) {
        warn(`the cached optimized graph ${pre} did not load (${errorMessage(err)}); it is removed and the model optimized again`);
        await dropOptimized(pre);
      }
    }
  }
  return createSessionWithChain(modelPath, opts, ort);
}

function dimsOf(shape: ReadonlyArray<number | string>, resolution: number | undefined, what: string): number[] {
  return shape.map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    if (i === 0) return 1;
    if (resolution && (i === 1 || i === 2)) return resolution;
    throw new EdgefitError('E_ENGINE_SHAPE', `${what} has a symbolic dimension ${String(d)} at axis ${i}; give the resolution to run it at`);
  });
}

/** The output's dims after one run on a black frame (once, at load). */
async function probeOutputShape(ort: OrtNodeModule, session: OrtTypes.InferenceSession, input: string, output: string, inputShape: number[]): Promise<number[]> {
  const frame = new Uint8Array(inputShape.reduce((a, b) => a * b, 1));
  const out = await session.run({ [input]: new ort.Tensor('uint8', frame, inputShape) });
  try {
    const dims = [...out[output]!.dims];
    if (dims.length === 0 || dims.some((d) => !(Number.isInteger(d) && d > 0))) throw new Error(`it gave [${dims.join(', ')}]`);
    return dims;
  } finally {
    for (const k of Object.keys(out)) out[k]!.dispose();
  }
}

export class OrtEngine implements Engine {
  readonly name = 'onnxruntime';
  private readonly scores: Float32Array;
  private readonly feedDims: number[];

  constructor(
    private readonly ort: OrtNodeModule,
    private readonly session: OrtTypes.InferenceSession,
    readonly provider: ProviderName,
    readonly refused: { provider: ProviderName; reason: string }[],
    readonly io: ModelIO,
    private readonly dequant: { scale: number; zeroPoint: number },
  ) {
    this.scores = new Float32Array(io.outputShape.reduce((a, b) => a * b, 1));
    this.feedDims = io.inputShape;
  }

  static async load(modelPath: string, opts: EngineOptions): Promise<OrtEngine> {
    try {
      if (!(await stat(modelPath)).isFile()) throw new Error('not a file');
    } catch (err) {
      throw new EdgefitError('E_MODEL_MISSING', `model file ${modelPath} cannot be read (${errorMessage(err)}); run \`edgefit models pull\` or check models.catalog`, { cause: err });
    }
    const ort = opts.ortLibraryPath ? (await loadOrtBinding(opts.ortLibraryPath)).ort : bundledOrt;
    // onnxruntime reads the file itself: model bytes held in JS would stay in the heap until a GC, and their
    // release raises glibc's mmap threshold to their size, which leaves later allocations fragmented in the heap
    const { session, provider, refused } = await openSession(modelPath, opts, ort);
    const inMeta = session.inputMetadata[0];
    const outMeta = session.outputMetadata[0];
    if (!inMeta?.isTensor || !outMeta?.isTensor) {
      await session.release();
      throw new EdgefitError('E_MODEL_IO', `${modelPath}: the model needs one tensor input and one tensor output`);
    }
    if (inMeta.type !== 'uint8') {
      await session.release();
      throw new EdgefitError('E_MODEL_IO', `${modelPath}: input ${inMeta.name} is ${inMeta.type}; edgefit feeds uint8 RGB NHWC frames, import the model with \`edgefit import\` to fold the preprocessing in`);
    }
    const inputShape = dimsOf(inMeta.shape, opts.resolution, `${modelPath} input`);
    if (inputShape.length !== 4 || inputShape[3] !== 3) {
      await session.release();
      throw new EdgefitError('E_MODEL_IO', `${modelPath}: input shape [${inputShape}] is not [1, H, W, 3] (uint8 RGB NHWC)`);
    }
    let outputShape = outMeta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : NaN));
    if (outputShape.some((d) => Number.isNaN(d))) {
      // a detector's output grows with its input (more anchors at a larger size): one run at this size tells it
      outputShape = await probeOutputShape(ort, session, inMeta.name, outMeta.name, inputShape).catch(async (err: unknown) => {
        await session.release();
        throw new EdgefitError('E_MODEL_IO', `${modelPath}: output ${outMeta.name} has a symbolic dimension and a run at ${inputShape[1]}x${inputShape[2]} did not settle it (${errorMessage(err)})`, { cause: err });
      });
    }
    const io: ModelIO = {
      inputName: inMeta.name,
      inputShape,
      inputType: 'uint8',
      outputName: outMeta.name,
      outputShape,
    };
    let dequant = { scale: opts.outputScale ?? 1, zeroPoint: opts.outputZeroPoint ?? 0 };
    if (outMeta.type !== 'float32' && opts.outputScale === undefined) {
      // imported quantized models keep their integer output and say how to read it in the ONNX metadata
      // only the metadata is read, not the graph: the weights are the session's business
      const meta = await readOnnxMetadata(modelPath).catch(async (err: unknown) => { await session.release(); throw err; });
      const scale = Number(meta.get('edgefit.output.scale'));
      const zp = Number(meta.get('edgefit.output.zero_point') ?? 0);
      if (!(scale > 0) || !Number.isFinite(zp)) {
        await session.release();
        throw new EdgefitError('E_MODEL_IO', `${modelPath}: the output is ${outMeta.type} but the model does not say its scale (edgefit.output.scale metadata); re-import it with \`edgefit import\``);
      }
      dequant = { scale, zeroPoint: zp };
    }
    return new OrtEngine(ort, session, provider, refused, io, dequant);
  }

  async run(frame: Uint8Array): Promise<RunResult> {
    const expected = this.feedDims[1]! * this.feedDims[2]! * 3;
    if (frame.length !== expected) {
      throw new EdgefitError('E_FRAME_SIZE', `frame has ${frame.length} bytes, the model wants ${this.feedDims[1]}x${this.feedDims[2]}x3 = ${expected}`);
    }
    const t0 = performance.now();
    const out = await this.session.run({ [this.io.inputName]: new this.ort.Tensor('uint8', frame, this.feedDims) });
    const inferMs = performance.now() - t0;
    const t = out[this.io.outputName]!;
    const data = t.data as Float32Array | Uint8Array | Int8Array;
    if (data instanceof Float32Array) {
      this.scores.set(data);
    } else {
      const { scale, zeroPoint } = this.dequant;
      for (let i = 0; i < data.length; i++) this.scores[i] = (data[i]! - zeroPoint) * scale;
    }
    for (const k of Object.keys(out)) out[k]!.dispose();
    return { scores: this.scores, inferMs };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

export const ortEngineFactory: EngineFactory = {
  name: 'onnxruntime',
  load: (modelPath, options) => OrtEngine.load(modelPath, options),
};

export function ortVersion(): string {
  return bundledOrt.env.versions?.common ?? 'unknown';
}
