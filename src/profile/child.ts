/**
 * Child-process entry of the profiler, run by runIsolated (src/util/run-isolated.ts): the job comes on stdin, the
 * answer (ChildAnswer) goes back as its last stdout line. Loads one model in onnxruntime, warms it up, times
 * runs; its baseline, phases and progress go over the IPC channel while it works. The onnxruntime is the job's
 * runtime, loaded as the engine's worker loads it (loadOrtBinding: engine.ortLibraryPath, or the bundled
 * onnxruntime-node), and the session gets the engine's options (modelSessionOptions, TensorRT's FP16 and cache).
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { AgreementJob, ChildAnswer, ChildJob, ChildMessage, ChildPhase } from './protocol.js';
import { setTensorrtEnvironment, type OrtRuntime } from './runtime.js';
import { loadOrtBinding, modelSessionOptions, type OrtNodeModule } from '../engine/ort-binding.js';
import { serveIsolated } from '../util/isolated-main.js';
import { readProcMemory } from '../util/procstatus.js';
import { summarize } from './stats.js';
import { OnnxBuilder } from '../onnx/builder.js';
import { DataType } from '../onnx/proto.js';

let phase: ChildPhase = 'start';

/** A one-node model (uint8 x -> Identity -> y) to initialise the runtime with. */
function primerModel(): Uint8Array {
  const b = new OnnxBuilder('primer');
  b.input('x', DataType.UINT8, [1]);
  b.node('Identity', ['x'], ['y']);
  b.output('y', DataType.UINT8, [1]);
  return b.toBytes();
}

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

function setPhase(p: ChildPhase): void {
  phase = p;
  void send({ type: 'phase', phase: p });
}

/** Resolves symbolic / unknown dims: batch 1, spatial dims at the variant's resolution, 3 channels. */
function concreteShape(shape: ReadonlyArray<number | string>, job: ChildJob): number[] {
  if (shape.length !== 4) {
    return shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  }
  const want = job.layout === 'NHWC' ? [1, job.resolution, job.resolution, 3] : [1, 3, job.resolution, job.resolution];
  return shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : want[i]!));
}

const isTfjs = (p: string): p is 'tfjs-node' | 'tfjs-wasm' => p === 'tfjs-node' || p === 'tfjs-wasm';

/**
 * The job's onnxruntime, as the engine's worker loads it; for tensorrt with the environment the daemon gives its
 * engine (setTensorrtEnvironment), so a binding that forwards no TensorRT options builds the engines it will run.
 */
async function loadOrt(job: { provider: string; runtime: OrtRuntime }): Promise<OrtNodeModule> {
  if (job.provider === 'tensorrt') setTensorrtEnvironment(job.runtime);
  return (await loadOrtBinding(job.runtime.ortLibraryPath)).ort;
}

/** The engine's session options for the job's provider (src/engine/onnxruntime.ts creates its session with them). */
function sessionOptions(job: { provider: string; runtime: OrtRuntime; threads: number }) {
  const p = job.provider;
  if (p !== 'cpu' && p !== 'cuda' && p !== 'tensorrt') throw new Error(`${p} is not an onnxruntime provider`);
  const { trtFp16, trtCacheDir } = job.runtime;
  return modelSessionOptions(p, { threads: job.threads, ...(trtFp16 ? { trtFp16 } : {}), ...(trtCacheDir ? { trtCacheDir } : {}) });
}

/** A model on a TensorFlow.js provider, through the engine the daemon would run it with (one frame size). */
async function loadTfjs(job: { modelPath: string; provider: 'tfjs-node' | 'tfjs-wasm'; threads: number }, resolution: number) {
  const { tfjsEngineFactory } = await import('../engine/tfjs/factory.js');
  const engine = await tfjsEngineFactory.load(job.modelPath, { providers: [job.provider], threads: job.threads, resolution });
  if (engine.provider !== job.provider) {
    await engine.close();
    throw new Error(`${job.provider} did not initialise (${engine.refused.map((r) => `${r.provider}: ${r.reason}`).join('; ') || `${engine.provider} runs instead`})`);
  }
  return engine;
}

/** The timing loop of run(), over any runner of one frame. */
async function timeRuns(job: ChildJob, once: () => Promise<unknown>): Promise<number[]> {
  setPhase('warmup');
  const w0 = performance.now();
  let warm = 0;
  while (warm < job.warmupRuns || performance.now() - w0 < job.warmupMs) {
    await once();
    warm++;
    if (warm >= job.maxRuns) break;
  }
  await send({ type: 'progress', phase: 'warmup', runs: warm, elapsedMs: performance.now() - w0 });
  setPhase('runs');
  const samples: number[] = [];
  const r0 = performance.now();
  let lastReport = r0;
  while ((samples.length < job.minRuns || performance.now() - r0 < job.minMs) && samples.length < job.maxRuns) {
    const t = performance.now();
    await once();
    const now = performance.now();
    samples.push(now - t);
    if (now - lastReport > 250) {
      lastReport = now;
      void send({ type: 'progress', phase: 'runs', runs: samples.length, elapsedMs: now - r0 });
    }
  }
  return samples;
}

function pseudoPixels(count: number): Uint8Array {
  // Deterministic pseudo-random pixels: constant frames can take fast paths (e.g. zero skipping) real frames don't.
  const pixels = new Uint8Array(count);
  let s = 0x9e3779b9;
  for (let i = 0; i < count; i++) { s = (s * 1664525 + 1013904223) >>> 0; pixels[i] = s >>> 24; }
  return pixels;
}

async function runTfjs(job: ChildJob & { provider: 'tfjs-node' | 'tfjs-wasm' }): Promise<ChildAnswer> {
  // the runtime's one-time costs (the backend's wasm module or native library) before the baseline
  const { initTfjsBackend } = await import('../engine/tfjs/backend.js');
  await initTfjsBackend([job.provider]);
  const baseKb = readProcMemory()?.rssKb ?? 0;
  await send({ type: 'baseline', rssKb: baseKb });
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* see run() */ }
  setPhase('load');
  const t0 = performance.now();
  const engine = await loadTfjs(job, job.resolution);
  const sessionCreateMs = performance.now() - t0;
  const afterLoad = readProcMemory();
  if (job.fault === 'abort') process.abort();
  const frame = pseudoPixels(engine.io.inputShape.reduce((a, b) => a * b, 1));
  const samples = await timeRuns(job, () => engine.run(frame));
  const end = readProcMemory();
  await engine.close();
  return {
    type: 'result', runs: samples.length, latencyMs: summarize(samples), sessionCreateMs,
    rssGrowthKb: Math.max(0, (afterLoad?.rssKb ?? baseKb) - baseKb),
    peakKb: Math.max(0, (end?.hwmKb ?? baseKb) - baseKb),
  };
}

async function run(job: ChildJob): Promise<ChildAnswer> {
  if (isTfjs(job.provider)) return runTfjs(job as ChildJob & { provider: 'tfjs-node' | 'tfjs-wasm' });
  const ort = await loadOrt(job);
  // Pay the runtime's one-time costs (shared-library pages, global environment) before the baseline, so the
  // memory figures are what this model adds, not what any first session costs.
  const primer = await ort.InferenceSession.create(primerModel(), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  await primer.run({ x: new ort.Tensor('uint8', new Uint8Array(1), [1]) });
  await primer.release();
  const base = readProcMemory();
  const baseKb = base?.rssKb ?? 0;
  await send({ type: 'baseline', rssKb: baseKb });
  // Reset VmHWM to the current RSS so the peak we report counts from this baseline, not node's start-up.
  try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* kernels before 4.0 or no /proc: peak then includes start-up */ }

  setPhase('load');
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(job.modelPath, sessionOptions(job));
  const sessionCreateMs = performance.now() - t0;
  const afterLoad = readProcMemory();
  if (job.fault === 'abort') process.abort();

  const meta = session.inputMetadata[0];
  if (!meta || session.inputNames.length !== 1) {
    throw new Error(`the model has ${session.inputNames.length} inputs; edgefit profiles single-input image models`);
  }
  const shape = concreteShape(meta.isTensor ? meta.shape : [], job);
  const count = shape.reduce((a, b) => a * b, 1);
  const type = meta.isTensor ? meta.type : 'uint8';
  const pixels = pseudoPixels(count);
  let tensor;
  if (type === 'uint8') tensor = new ort.Tensor('uint8', pixels, shape);
  else if (type === 'int8') tensor = new ort.Tensor('int8', new Int8Array(pixels.buffer), shape);
  else if (type === 'float32') tensor = new ort.Tensor('float32', Float32Array.from(pixels, (p) => p / 127.5 - 1), shape);
  else throw new Error(`input type ${type} is not an image type edgefit feeds (uint8, int8, float32)`);
  const feeds = { [session.inputNames[0]!]: tensor };

  if (job.fault === 'leak') {
    // A runaway allocation: touched pages, so RSS really grows until the parent kills us.
    const hold: Buffer[] = [];
    setInterval(() => { hold.push(Buffer.alloc(16 * 1024 * 1024, 1)); }, 5);
    return new Promise<never>(() => undefined);
  }
  if (job.fault === 'hang') {
    setInterval(() => undefined, 1000);
    return new Promise<never>(() => undefined);
  }

  const samples = await timeRuns(job, () => session.run(feeds));
  const end = readProcMemory();
  await session.release();
  return {
    type: 'result',
    runs: samples.length,
    latencyMs: summarize(samples),
    sessionCreateMs,
    rssGrowthKb: Math.max(0, (afterLoad?.rssKb ?? baseKb) - baseKb),
    peakKb: Math.max(0, (end?.hwmKb ?? baseKb) - baseKb),
  };
}

/** Index of the largest output value: the top-1 class (raw quantized values order as the scores do). */
function argmax(d: ArrayLike<number | bigint>): number {
  let best = 0;
  for (let i = 1; i < d.length; i++) if (d[i]! > d[best]!) best = i;
  return best;
}

async function agreementTfjs(job: AgreementJob & { provider: 'tfjs-node' | 'tfjs-wasm' }): Promise<ChildAnswer> {
  const { decodeRgb, cropResizeRgb } = await import('../image/load.js');
  setPhase('load');
  const native = await loadTfjs(job, job.nativeResolution);
  const rung = await loadTfjs(job, job.resolution);
  setPhase('runs');
  let frames = 0, agreeing = 0, skipped = 0;
  for (const path of job.frames) {
    const img = await decodeRgb(path);
    if (Math.min(img.width, img.height) < job.nativeResolution) { skipped++; continue; }
    const a = argmax((await native.run(await cropResizeRgb(img.data, img.width, img.height, job.nativeResolution))).scores);
    const b = argmax((await rung.run(await cropResizeRgb(img.data, img.width, img.height, job.resolution))).scores);
    frames++;
    if (a === b) agreeing++;
  }
  await native.close();
  await rung.close();
  return { type: 'agreement', frames, agreeing, skipped };
}

async function agreement(job: AgreementJob): Promise<ChildAnswer> {
  if (isTfjs(job.provider)) return agreementTfjs(job as AgreementJob & { provider: 'tfjs-node' | 'tfjs-wasm' });
  const ort = await loadOrt(job);
  const { decodeRgb, cropResizeRgb } = await import('../image/load.js');
  setPhase('load');
  const session = await ort.InferenceSession.create(job.modelPath, sessionOptions(job));
  const meta = session.inputMetadata[0];
  if (session.inputNames.length !== 1 || !meta?.isTensor || meta.type !== 'uint8' || meta.shape.length !== 4 || meta.shape[3] !== 3) {
    throw new Error('agreement is measured on models that take uint8 NHWC RGB pixels (what edgefit imports make)');
  }
  const top1 = async (pixels: Uint8Array, r: number): Promise<number> => {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('uint8', pixels, [1, r, r, 3]) });
    return argmax(out[session.outputNames[0]!]!.data as ArrayLike<number>);
  };
  setPhase('runs');
  let frames = 0, agreeing = 0, skipped = 0;
  for (const path of job.frames) {
    const img = await decodeRgb(path);
    if (Math.min(img.width, img.height) < job.nativeResolution) { skipped++; continue; }
    const native = await top1(await cropResizeRgb(img.data, img.width, img.height, job.nativeResolution), job.nativeResolution);
    const rung = await top1(await cropResizeRgb(img.data, img.width, img.height, job.resolution), job.resolution);
    frames++;
    if (native === rung) agreeing++;
  }
  await session.release();
  return { type: 'agreement', frames, agreeing, skipped };
}

// A model that fails to load or run is an answer (with the phase it failed in), not a failure of the child.
// serveIsolated exits when the parent goes away: a model must not keep running on the board.
serveIsolated<ChildJob | AgreementJob, ChildAnswer>(async (job) => {
  try {
    return await (job.type === 'agreement' ? agreement(job) : run(job));
  } catch (err) {
    return { type: 'error', phase, message: err instanceof Error ? err.message : String(err) };
  }
});
