/**
 * The board's concurrency slowdown: how much throughput streams lose by running together (shared caches, memory
 * bandwidth, a hyperthread sibling, a neighbour's load). The joint choice's capacity is cores x this factor.
 * Measured with the daemon's own engine hosts (worker threads), the model already proven loadable by the profiler.
 */
import { EngineHost } from '../engine/host.js';
import { EdgefitError } from '../util/errors.js';

export interface SlowdownOptions {
  /** streams run together; default the board's cores */
  streams: number;
  /** intra-op threads per stream; default 1 */
  threads?: number;
  /** input resolution for models with symbolic dimensions */
  resolution?: number;
  /** how long the measurement runs in all (ms), both arms; default 4000 */
  durationMs?: number;
  /** alone / together pairs, interleaved so drift hits both arms alike; the factor is their median ratio; default 4 */
  rounds?: number;
  /** the frame to run (its size must match the model) */
  frame: Uint8Array;
  /** engine.ortLibraryPath: the onnxruntime the cameras' workers load (default the bundled one) */
  ortLibraryPath?: string;
}

export interface Slowdown {
  /** runs per second of one stream alone */
  aloneFps: number;
  /** runs per second of all streams together */
  togetherFps: number;
  streams: number;
  /** median over the rounds of togetherFps / (streams x aloneFps), capped to (0, 1] */
  factor: number;
  /** every round's ratio, for the spread */
  ratios: number[];
}

async function runFor(hosts: EngineHost[], frame: Uint8Array, ms: number): Promise<number> {
  const end = performance.now() + ms;
  const counts = await Promise.all(hosts.map(async (h) => {
    let n = 0;
    while (performance.now() < end) { await h.run(frame); n++; }
    return n;
  }));
  return counts.reduce((a, b) => a + b, 0);
}

/** Runs the model alone, then `streams` copies at once, in interleaved rounds, and compares throughput. */
export async function measureSlowdown(modelPath: string, o: SlowdownOptions): Promise<Slowdown> {
  if (!Number.isInteger(o.streams) || o.streams < 1) throw new EdgefitError('E_OPTIONS', `streams must be a whole number >= 1 (got ${o.streams})`);
  const hosts: EngineHost[] = [];
  try {
    for (let i = 0; i < o.streams; i++) {
      hosts.push(await EngineHost.start(modelPath, { providers: ['cpu'], threads: o.threads ?? 1, ...(o.resolution ? { resolution: o.resolution } : {}), ...(o.ortLibraryPath ? { ortLibraryPath: o.ortLibraryPath } : {}) }));
    }
    // warm every session so neither arm pays a first run
    await runFor(hosts, o.frame, 200);
    const rounds = Math.max(1, Math.floor(o.rounds ?? 4));
    const arm = (o.durationMs ?? 4000) / rounds / 2;
    const ratios: number[] = [];
    let alone = 0, together = 0;
    for (let i = 0; i < rounds; i++) {
      const a = await runFor(hosts.slice(0, 1), o.frame, arm);
      const t = await runFor(hosts, o.frame, arm);
      alone += a;
      together += t;
      ratios.push(t / (o.streams * Math.max(1, a)));
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    const median = sorted.length % 2 ? sorted[sorted.length >> 1]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    const total = arm * rounds;
    return { aloneFps: (alone * 1000) / total, togetherFps: (together * 1000) / total, streams: o.streams, factor: Math.min(1, Math.max(1e-3, median)), ratios };
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
}
