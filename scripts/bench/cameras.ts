import { availableParallelism } from 'node:os';
import { makeMeasurer } from '../../src/profile/measure.js';
import { measureSlowdown } from '../../src/profile/concurrency.js';
import { makeCandidate } from '../../src/select/policy.js';
import { jointOptions } from '../../src/select/joint-options.js';
import { chooseJoint } from '../../src/select/joint-explain.js';
import { verifyJoint } from '../../src/select/verify-joint.js';
import type { JointInput, JointOption } from '../../src/select/joint.js';
import type { Candidate } from '../../src/select/types.js';
import type { BenchContext, SectionResult } from './context.js';
import { fmt, fmtRange, table } from './stats.js';

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(0)}%`;

/** "2x a/t1, b/t1" with the candidate's provider dropped */
function compact(ids: string[]): string {
  const n = new Map<string, number>();
  for (const id of ids) n.set(id.replace('@cpu', ''), (n.get(id.replace('@cpu', '')) ?? 0) + 1);
  return [...n].map(([id, k]) => (k > 1 ? `${k}x ${id}` : id)).join(', ');
}

/**
 * 1-4 identical cameras on this board: the ladder profiled in this run (the profiler's children),
 * the concurrency slowdown measured, the joint choice for N cameras, then that set run as it will run (engine
 * hosts per model, fair queue, one run per core) for a window. Prints the chosen variants, achieved fps per
 * camera, p90 and the gap between the predicted and the measured load.
 */
export async function camerasSection(ctx: BenchContext): Promise<SectionResult> {
  const cores = availableParallelism();
  const ladder = (await ctx.ladder()).filter((v) => v.pretrained && v.precision === 'int8');
  if (ladder.length === 0) throw new Error('cameras: no pretrained int8 rung in the ladder (check ../shared/data)');
  // profiled in this run (no cache): the choice's predictions and the measurements of the sets share the machine's state
  const measure = makeMeasurer({
    board: 'bench', threads: 'auto', percentile: 'p90',
    profile: ctx.quick ? { minRuns: 5, minMs: 300, warmupRuns: 1 } : { minRuns: 20, minMs: 1000, warmupRuns: 3 },
  });
  const cands: Candidate[] = [];
  for (const v of ladder) {
    ctx.log(`cameras: profiling ${v.id}`);
    cands.push(makeCandidate(v, 'cpu', (await measure({ variant: v, provider: 'cpu' })).measurements));
  }
  const options: JointOption[] = jointOptions(cands);
  if (options.length === 0) throw new Error('cameras: no rung of the ladder ran');
  // the slowdown with the mid-size rung, one stream per core
  const byTime = [...options].filter((o) => o.threads === 1).sort((a, b) => a.timeMs - b.timeMs);
  const mid = byTime[Math.floor(byTime.length / 2)] ?? options[0]!;
  const frames = new Map<number, Uint8Array>();
  const frameFor = (r: number) => frames.get(r)!;
  for (const r of new Set(options.map((o) => o.resolution!))) frames.set(r, (await ctx.photos(r, 1))[0]!);
  const slow = await measureSlowdown(mid.modelPath!, { streams: cores, threads: 1, resolution: mid.resolution!, frame: frameFor(mid.resolution!), durationMs: ctx.quick ? 1000 : 8000, rounds: ctx.quick ? 2 : 8 });
  ctx.log(`cameras: slowdown ${slow.factor.toFixed(2)} (${slow.aloneFps.toFixed(0)} runs/s alone, ${slow.togetherFps.toFixed(0)} with ${cores} streams)`);
  // one camera with the most accurate rung takes 40% of a core: four of them would not fit two cores together
  const top = [...options].filter((o) => o.threads === 1).sort((a, b) => (b.accuracy ?? 0) - (a.accuracy ?? 0) || a.timeMs - b.timeMs)[0] ?? options[0]!;
  const fps = Math.max(5, Math.min(30, Math.round((0.4 * 1000) / top.timeMs)));
  const budgetMs = Math.round(1000 / fps);
  const rows: string[][] = [];
  const data: unknown[] = [];
  for (let n = 1; n <= 4; n++) {
    const cameras = Array.from({ length: n }, (_, i) => ({ id: `cam${i + 1}`, fps, budgetMs, priority: 0 }));
    const inp: JointInput = { cameras, options: Object.fromEntries(cameras.map((c) => [c.id, options])), board: { cores, slowdown: slow.factor } };
    const d = chooseJoint(inp);
    ctx.log(`cameras: ${n} camera(s): ${d.feasible ? '' : 'NOTHING FITS, '}${compact(d.cameras.map((c) => c.option.id))}`);
    const v = await verifyJoint(inp, d.assignment, { windowMs: ctx.quick ? 1000 : 5000, warmupMs: ctx.quick ? 300 : 1000, maxRounds: 4, frameFor, log: (l) => ctx.log(`cameras: ${l}`) });
    const last = v.rounds[v.rounds.length - 1]!;
    const fpsList = last.cameras.map((c) => c.achievedFps);
    rows.push([
      String(n), `${fps} / ${budgetMs}`, compact(d.cameras.map((c) => c.option.id)) + (d.feasible ? '' : ' (nothing fits)'),
      v.rounds.length > 1 ? compact(last.cameras.map((c) => c.option)) : 'same',
      last.cameras.map((c) => fmt(c.achievedFps)).join(' '), last.cameras.map((c) => fmt(c.p90Ms)).join(' '),
      fmt(last.predictedLoad, 2), fmt(last.measuredCpuCores, 2), pct(last.loadGap),
      pct(last.cameras.reduce((s, c) => s + c.runGap, 0) / last.cameras.length), fmt(last.predictedMemoryMb, 0), fmt(last.rssGrowthMb, 0), v.met ? 'yes' : 'no',
    ]);
    data.push({ cameras: n, fps, budgetMs, chosen: d.cameras.map((c) => c.option.id), feasible: d.feasible, demand: d.load.demand, capacity: d.load.capacity, rounds: v.rounds, met: v.met, minFps: Math.min(...fpsList) });
  }
  return {
    name: 'cameras',
    title: `Several cameras on one board (${cores} cores, slowdown ${slow.factor.toFixed(2)}, capacity ${(cores * slow.factor).toFixed(2)} cores)`,
    table: table(['cameras', 'fps / p90 budget ms', 'joint choice', 'after step-down', 'achieved fps per camera', 'p90 ms per camera', 'predicted load', 'measured CPU', 'load gap', 'run-time gap', 'model MB', 'RSS growth MB', 'met'], rows),
    targets: [],
    notes: [
      `identical cameras at ${fps} fps with a p90 budget of ${budgetMs} ms (one frame interval); the fps is set so one camera with the most accurate rung (${top.id}, ${top.timeMs.toFixed(1)} ms a frame alone) takes 40% of a core`,
      'joint choice: per camera a rung at a thread count, every camera within its budget and fps, the total demand (fps x mean time x threads) within cores x slowdown, cameras on one model sharing its session and worker',
      'predicted load = sum of fps x mean time alone x threads (cores), what the choice counts against cores x slowdown; measured CPU = process CPU time in the window / window (inference, fair queue and offering frames); load gap = measured / predicted - 1',
      'run-time gap = mean time inside the runtime while running together / mean time alone - 1, averaged over the cameras (the choice allowed up to 1 / slowdown - 1)',
      'model MB = the distinct sessions\' measured peaks (a model shared by cameras counted once); RSS growth = the process\'s resident memory at the end of the window minus before the sessions loaded',
      `slowdown measured with ${mid.id}: ${slow.aloneFps.toFixed(0)} runs/s alone, ${slow.togetherFps.toFixed(0)} with ${cores} streams at once; median of ${slow.ratios.length} interleaved rounds (${fmtRange(slow.ratios, 2)})`,
    ],
    data: { cores, slowdown: slow, fps, budgetMs, options, results: data },
  };
}
