import { EngineHost } from '../../src/engine/host.js';
import { createFrameSource } from '../../src/camera/registry.js';
import type { FrameSource } from '../../src/camera/source.js';
import { Pipeline, type InferenceResult } from '../../src/pipeline/pipeline.js';

export interface RunningPipeline {
  pipeline: Pipeline;
  source: FrameSource;
  host: EngineHost;
  /** per-inference wall times (the engine took the frame -> result event on the main thread), ms, while collecting */
  collect(n: number, timeoutMs?: number): Promise<{ perInference: number[]; latencyMs: number[]; inferMs: number[]; wallMs: number }>;
  close(): Promise<void>;
}

/**
 * The daemon's inference path, assembled as src/daemon.ts assembles it: camera -> Pipeline -> EngineHost
 * (worker thread) -> result event. `camera` is a camera spec (synthetic, lavfi:...).
 */
export async function startPipeline(modelPath: string, resolution: number, threads: number, camera: string, fps: number): Promise<RunningPipeline> {
  const host = await EngineHost.start(modelPath, { providers: ['cpu'], threads, resolution, timeoutMs: 5000 });
  const source = await createFrameSource(camera, { width: resolution, height: resolution, fps, watchdogSeconds: 10, loop: true });
  source.on('error', () => undefined);
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
          const now = performance.timeOrigin + performance.now();
          if (perInference.length === 0) first = r.startedAt;
          perInference.push(now - r.startedAt);
          latencyMs.push(r.latencyMs);
          inferMs.push(r.inferMs);
          if (perInference.length >= n) {
            // the worker may already run the next frame: the block ends once that run has answered (unrecorded)
            pipeline.pause();
            pipeline.off('result', on);
            clearTimeout(t);
            void pipeline.idle().then(() => resolve({ perInference, latencyMs, inferMs, wallMs: now - first }));
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
