import { readFileSync, statSync } from 'node:fs';
import { checkIntegerKernels } from '../../src/quant/verify.js';
import type { Variant } from '../../src/catalog/types.js';
import type { BenchContext, SectionResult, Target } from './context.js';
import { bareSession, type BareSession } from './session.js';
import { byRole, profileOps } from './opprofile.js';
import { fmt, interleave, pairedRatio, ratio, summarize, table, type ArmResult, type Interleaved, type Summary } from './stats.js';

interface Pair {
  id: string;
  int8: Variant;
  fp32: Variant | undefined;
}

/** int8 rungs with their dequantized fp32 twin (same weights, same resolution), from the ladder's ids. */
function pairs(ladder: Variant[]): Pair[] {
  const byId = new Map(ladder.map((v) => [v.id, v]));
  const out: Pair[] = [];
  for (const v of ladder) {
    if (v.precision !== 'int8') continue;
    const twin = byId.get(v.id.includes('int8') ? v.id.replace('int8', 'fp32-deq') : v.id.replace(/(@\d+)?$/, '-fp32-deq$1'));
    out.push({ id: v.id, int8: v, fp32: twin });
  }
  // fp32 rungs with no int8 twin are measured alone
  for (const v of ladder) {
    if (v.precision === 'fp32' && !out.some((p) => p.fp32?.id === v.id)) out.push({ id: v.id, int8: v, fp32: undefined });
  }
  return out;
}

async function kernelsOf(path: string): Promise<{ qlinear: number; floatConv: number; integer: number }> {
  const k = await checkIntegerKernels(readFileSync(path));
  const count = (re: RegExp) => Object.entries(k.ops).filter(([op]) => re.test(op)).reduce((a, [, n]) => a + n, 0);
  return { qlinear: count(/QLinearConv$/), floatConv: k.floatComputeNodes.length, integer: k.integerNodes };
}

export async function ladderSection(ctx: BenchContext): Promise<SectionResult> {
  const ladder = await ctx.ladder();
  const rounds = ctx.quick ? 3 : 10;
  const block = ctx.quick ? 3 : 4;
  const rows: string[][] = [];
  const data: unknown[] = [];
  for (const p of pairs(ladder)) {
    const res = p.int8.resolution;
    const frame = (await ctx.photos(res, 1))[0]!;
    const variants: [string, Variant][] = [[p.int8.precision === 'int8' ? 'int8' : 'fp32', p.int8], ...(p.fp32 ? [['fp32', p.fp32] as [string, Variant]] : [])];
    const byThreads: Record<number, Interleaved> = {};
    // one pass per thread count: a 2-thread session's pool spins after each run and would eat into a
    // 1-thread arm's CPU time if they were interleaved with each other
    for (const t of [1, 2]) {
      const sessions: BareSession[] = [];
      const arms: Record<string, () => Promise<ArmResult>> = {};
      for (const [prec, v] of variants) {
        const s = await bareSession(v.modelPath, res, t);
        sessions.push(s);
        arms[prec] = async () => ({ ms: await s.run(frame), cpuMs: s.lastCpuMs });
      }
      ctx.log(`ladder: ${p.id} ${t} thread(s) (${Object.keys(arms).join(' vs ')})`);
      byThreads[t] = await interleave(arms, { rounds, block, skip: 1, warmup: 1 });
      for (const s of sessions) await s.release();
    }
    const [a, b, c, d] = [sumOf(byThreads[1]!, 'int8'), sumOf(byThreads[2]!, 'int8'), sumOf(byThreads[1]!, 'fp32'), sumOf(byThreads[2]!, 'fp32')];
    const both = !!p.fp32;
    const ratio1 = both ? pairedRatio(byThreads[1]!.blocks.int8!, byThreads[1]!.blocks.fp32!) : Number.NaN;
    const ratio2 = both ? pairedRatio(byThreads[2]!.blocks.int8!, byThreads[2]!.blocks.fp32!) : Number.NaN;
    const cpuRatio1 = both ? pairedRatio(byThreads[1]!.cpuBlocks.int8!, byThreads[1]!.cpuBlocks.fp32!) : Number.NaN;
    const cpu1 = summarize(byThreads[1]!.cpuSamples[both || p.int8.precision === 'int8' ? 'int8' : 'fp32'] ?? []);
    const pp = (x: Summary | undefined) => (x ? `${fmt(x.p50)}/${fmt(x.p90)}` : '-');
    rows.push([
      p.id, `${(p.int8.macs / 1e6).toFixed(0)}`,
      pp(a), pp(b), pp(c), pp(d), fmt(cpu1.p50),
      fmt(ratio1, 2), fmt(cpuRatio1, 2), fmt(ratio2, 2), fmt(ratio(b?.p50 ?? d?.p50 ?? NaN, a?.p50 ?? c?.p50 ?? NaN), 2),
    ]);
    data.push({
      id: p.id, int8: p.int8.id, fp32: p.fp32?.id, resolution: res, macs: p.int8.macs,
      t1: { int8: a, fp32: c, int8CpuMs: summarize(byThreads[1]!.cpuSamples.int8 ?? []), fp32CpuMs: summarize(byThreads[1]!.cpuSamples.fp32 ?? []) },
      t2: { int8: b, fp32: d },
      int8OverFp32: { t1: ratio1, t1Cpu: cpuRatio1, t2: ratio2 }, rounds, block,
    });
  }

  // MobileNet-v1 1.0/224: the zoo float model against src/quant's int8 version, one thread
  const targets: Target[] = [];
  const notes: string[] = [];
  const mn = await mobilenet224(ctx, rows, data, notes);
  const what = 'MobileNet-v1 1.0/224 int8 / fp32 latency (1 thread, p50)';
  if (mn) targets.push({ what, target: '<= 0.60', measured: `${fmt(mn.wall, 2)} (CPU time ${fmt(mn.cpu, 2)})`, met: mn.wall <= 0.6 });
  else targets.push({ what, target: '<= 0.60', measured: 'not measured (quantizer unavailable)', met: null });

  return {
    name: 'ladder',
    title: 'Ladder latency: int8 vs fp32, 1 and 2 intra-op threads (ms, p50/p90)',
    table: table(['variant', 'MMACs', 'int8 t1', 'int8 t2', 'fp32 t1', 'fp32 t2', 'int8 t1 CPU', 'i8/f32 t1', 'i8/f32 t1 CPU', 'i8/f32 t2', 't2/t1'], rows),
    targets,
    notes: [
      'fp32 rungs are the dequantized twins of the TFLite int8 files (same weights). Ratios are medians of per-round paired ratios.',
      '"CPU" is the process CPU time per run (1 thread): contention from other processes inflates wall time, hardly CPU time.',
      't2/t1 < 1 means two intra-op threads are faster than one.',
      ...notes,
    ],
    data,
  };
}

function sumOf(r: Interleaved, arm: string): Summary | undefined {
  const xs = r.samples[arm];
  return xs ? summarize(xs) : undefined;
}

async function mobilenet224(ctx: BenchContext, rows: string[][], data: unknown[], notes: string[]): Promise<{ wall: number; cpu: number } | undefined> {
  const fp32Path = await ctx.zooModel(1.0, 224);
  const int8Path = await ctx.zooInt8(1.0, 224);
  if (!int8Path) return undefined;
  const frame = (await ctx.photos(224, 1))[0]!;
  const f = await bareSession(fp32Path, 224, 1);
  const q = await bareSession(int8Path, 224, 1);
  ctx.log('ladder: zoo mobilenet_v1 1.0/224 fp32 vs src/quant int8, 1 thread');
  const r = await interleave({
    fp32: async () => ({ ms: await f.run(frame), cpuMs: f.lastCpuMs }),
    int8: async () => ({ ms: await q.run(frame), cpuMs: q.lastCpuMs }),
  }, { rounds: ctx.quick ? 3 : 10, block: 3, skip: 1, warmup: 1 });
  await f.release();
  await q.release();
  const sf = summarize(r.samples.fp32!);
  const sq = summarize(r.samples.int8!);
  const cq = summarize(r.cpuSamples.int8!);
  const rr = pairedRatio(r.blocks.int8!, r.blocks.fp32!);
  const rc = pairedRatio(r.cpuBlocks.int8!, r.cpuBlocks.fp32!);
  const k = await kernelsOf(int8Path);
  // where the time goes, by onnxruntime's own per-node profile
  const roles = { fp32: byRole(await profileOps(fp32Path, frame, 5, { resolution: 224 })), int8: byRole(await profileOps(int8Path, frame, 5, { resolution: 224 })) };
  const names = [...new Set([...Object.keys(roles.fp32), ...Object.keys(roles.int8)])];
  notes.push(`Per-node time of one run by role (onnxruntime profiling, 1 thread), fp32 -> int8 ms: ${names.map((n) => `${n} ${fmt(roles.fp32[n] ?? 0, 2)} -> ${fmt(roles.int8[n] ?? 0, 2)}`).join('; ')}.`);
  rows.push(['zoo mobilenet_v1 1.0/224 (src/quant)', '569', `${fmt(sq.p50)}/${fmt(sq.p90)}`, '', `${fmt(sf.p50)}/${fmt(sf.p90)}`, '', fmt(cq.p50), fmt(rr, 2), fmt(rc, 2), '', '']);
  notes.push(`zoo MobileNet-v1 1.0/224 int8 (src/quant, percentile calibration on images/calib, w8): ORT's optimized graph has ${k.qlinear} QLinearConv, ${k.integer} integer nodes, ${k.floatConv} float conv/gemm nodes left; model ${(statSync(int8Path).size / 1e6).toFixed(1)} MB vs fp32 ${(statSync(fp32Path).size / 1e6).toFixed(1)} MB.`);
  data.push({ id: 'zoo-mobilenet_v1-1.0-224', opRolesMs: roles, fp32: sf, int8: sq, fp32CpuMs: summarize(r.cpuSamples.fp32!), int8CpuMs: cq, int8OverFp32: rr, int8OverFp32Cpu: rc, kernels: k });
  return { wall: rr, cpu: rc };
}
