import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { createSessionWithChain } from '../../src/engine/onnxruntime.js';

/** A bare onnxruntime session created exactly as the daemon's engine creates it, with one timed run. */
export interface BareSession {
  session: ort.InferenceSession;
  resolution: number;
  /** runs one frame; returns the wall time of session.run alone (ms) */
  run(frame: Uint8Array): Promise<number>;
  /**
   * process CPU time of the last run (ms): with one intra-op thread and nothing else running in the process this
   * is the run's own compute, which preemption by other processes on a shared machine does not inflate
   */
  lastCpuMs: number;
  /** index of the highest output score for one frame */
  top1(frame: Uint8Array): Promise<number>;
  release(): Promise<void>;
}

export async function bareSession(modelPath: string | Uint8Array, resolution: number, threads: number): Promise<BareSession> {
  const bytes = typeof modelPath === 'string' ? await readFile(modelPath) : modelPath;
  const { session } = await createSessionWithChain(bytes, { providers: ['cpu'], threads });
  const input = session.inputNames[0]!;
  const dims = [1, resolution, resolution, 3];
  const bare: BareSession = {
    session,
    resolution,
    lastCpuMs: Number.NaN,
    async run(frame: Uint8Array): Promise<number> {
      const feeds = { [input]: new ort.Tensor('uint8', frame, dims) };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = await session.run(feeds);
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      bare.lastCpuMs = (c.user + c.system) / 1000;
      for (const k of Object.keys(out)) out[k]!.dispose();
      return ms;
    },
    async top1(frame: Uint8Array): Promise<number> {
      const out = await session.run({ [input]: new ort.Tensor('uint8', frame, dims) });
      const data = out[session.outputNames[0]!]!.data as ArrayLike<number>;
      let best = 0;
      for (let i = 1; i < data.length; i++) if (data[i]! > data[best]!) best = i;
      for (const k of Object.keys(out)) out[k]!.dispose();
      return best;
    },
    release: () => session.release(),
  };
  return bare;
}
