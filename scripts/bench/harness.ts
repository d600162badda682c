import { EventEmitter } from 'node:events';
import { EngineHost } from '../../src/engine/host.js';
import { createFrameSource } from '../../src/camera/registry.js';
import type { Frame, FrameSource } from '../../src/camera/source.js';
import { Pipeline, type InferenceResult } from '../../src/pipeline/pipeline.js';

/**
 * A FrameSource that remembers when the pipeline took each frame (performance.now()), so the bench can time
 * "frame taken -> result ready" inside the real pipeline without touching its code. Everything else forwards.
 */
export class TimedSource extends EventEmitter implements FrameSource {
  takenAt = 0;
  constructor(readonly inner: FrameSource) { super(); }
  get name(): string { return this.inner.name; }
  start(): Promise<void> { return this.inner.start(); }
  stop(): Promise<void> { return this.inner.stop(); }
  latest(): Frame | null { return this.inner.latest(); }
  take(): Frame | null {
    const f = this.inner.take();
    if (f) this.takenAt = performance.now();
    return f;
  }
  async next(signal?: AbortSignal): Promise<Frame> {
    const f = await this.inner.next(signal);
    this.takenAt = performance.now();
    return f;
  }
  release(): void { this.inner.release(); }
  reconfigure(size: { width: number; height: number }): Promise<void> { return this.inner.reconfigure(size); }
  stats(): ReturnType<FrameSource['stats']> { return this.inner.stats(); }
  pids(): number[] { return this.inner.pids(); }
}

export interface RunningPipeline {
  pipeline: Pipeline;
  source: TimedSource;
  host: EngineHost;
  /** per-inference wall times (taken -> result ready), ms, while collecting */
  collect(n: number, timeoutMs?: number): Promise<{ perInference: number[]; latencyMs: number[]; inferMs: number[]; wallMs: number }>;
  close(): Promise<void>;
}

/**
 * The daemon's inference path, assembled as src/daemon.ts assembles it: camera -> Pipeline -> EngineHost
 * (worker thread) -> result event. `camera` is a camera spec (synthetic, lavfi:...).
 */
export async function startPipeline(modelPath: string, resolution: number, threads: number, camera: string, fps: number): Promise<RunningPipeline> {
  const host = await EngineHost.start(modelPath, { providers: ['cpu'], threads, resolution, timeoutMs: 5000 });
  const inner = await createFrameSource(camera, { width: resolution, height: resolution, fps, watchdogSeconds: 10, loop: true });
  const source = new TimedSource(inner);
  inner.on('error', () => undefined);
  await source.start();
  const pipeline = new Pipeline({ source, model: { engine: host, variantId: 'bench', resolution, labels: undefined }, topK: 5, scoreThreshold: 0 });
  pipeline.on('error', () => undefined);
  pipeline.pause();
  pipeline.start();
  return {
    pipeline, source, host,
    collect(n: number, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const perInference: number[] = [];
        const latencyMs: number[] = [];
        const inferMs: number[] = [];
        let first = 0;
        const t = setTimeout(() => { pipeline.off('result', on); pipeline.pause(); reject(new Error(`pipeline gave ${perInference.length} of ${n} results in ${timeoutMs} ms`)); }, timeoutMs);
        const on = (r: InferenceResult) => {
          const now = performance.now();
          if (perInference.length === 0) first = source.takenAt;
          perInference.push(now - source.takenAt);
          latencyMs.push(r.latencyMs);
          inferMs.push(r.inferMs);
          if (perInference.length >= n) {
            // paused inside the result event: the loop sees it before it takes another frame, nothing in flight
            pipeline.pause();
            pipeline.off('result', on);
            clearTimeout(t);
            resolve({ perInference, latencyMs, inferMs, wallMs: now - first });
          }
        };
        pipeline.on('result', on);
        pipeline.resume();
      });
    },
    async close() {
      await pipeline.stop();
      await source.stop();
      await host.close();
    },
  };
}
