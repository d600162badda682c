import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkIntegerKernels } from '../../src/quant/verify.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { sharedData } from '../../src/util/paths.js';
import type { Variant } from '../../src/catalog/types.js';
import type { BenchContext, SectionResult, Target } from './context.js';
import { bareSession, type BareSession } from './session.js';
import { fmt, interleave, pairedRatio, summarize, table, type ArmResult } from './stats.js';

interface Arm { name: string; what: string; path: string }

async function kernels(path: string): Promise<string> {
  const k = await checkIntegerKernels(readFileSync(path));
  const n = (re: RegExp) => Object.entries(k.ops).filter(([op]) => re.test(op)).reduce((a, [, c]) => a + c, 0);
  return `${n(/QLinearConv$/)} QLinearConv, ${n(/^(?:.*\.)?(?:QGemm|QLinearMatMul|MatMulInteger)$/)} int GEMM, ${k.floatComputeNodes.length} float conv/gemm`;
}

/**
 * For one network: the int8 rung edgefit runs (the TFLite file imported as QDQ, weights stored as uint8+128 so
 * x64 uses its exact u8u8 kernels) against the conventional QDQ graph of the same weights (the dequantized fp32
 * twin quantized by src/quant: per-channel int8 weights, uint8 per-tensor activations, min/max calibration on
 * images/calib), and the fp32 twin itself, interleaved at one thread; plus top-1 agreement with fp32 on the test
 * photos.
 */
export async function quantizerSection(ctx: BenchContext): Promise<SectionResult> {
  const ladder = await ctx.ladder();
  const ids = ctx.quick ? ['mobilenet_v1-0.5-160-int8'] : ['mobilenet_v1-0.5-160-int8', 'mobilenet_v2-1.0-224-int8'];
  const rows: string[][] = [];
  const targets: Target[] = [];
  const notes: string[] = [];
  const data: unknown[] = [];
  const q = await import('../../src/quant/index.js').catch((err: Error) => { notes.push(`src/quant did not load: ${err.message}`); return undefined; });
  for (const id of ids) {
    const int8 = ladder.find((v) => v.id === id);
    const fp32 = ladder.find((v) => v.id === id.replace('int8', 'fp32-deq'));
    if (!int8 || !fp32) { notes.push(`${id}: not in the ladder with its fp32 twin`); continue; }
    const arms: Arm[] = [{ name: 'edgefit', what: 'ladder rung (TFLite QDQ, u8 weights)', path: int8.modelPath }];
    if (q) {
      // conventional: min/max, full 8-bit weights; and src/quant's x64-exact choice: percentile, 7-bit weights
      const recipes = [
        // conventional: the photos as they are, nearest rounding, no equalization
        { name: 'conventional', method: 'minmax' as const, bits: 8 as const, plain: true, what: 'conventional PTQ of the fp32 twin (src/quant: s8 per-channel w8, u8 act, minmax)' },
        { name: 'ptq-w7', method: 'percentile' as const, bits: 7 as const, plain: false, what: 'src/quant PTQ of the fp32 twin (percentile, 7-bit weights, equalization, adaptive rounding)' },
      ];
      for (const rc of recipes) {
        const path = join(ctx.zooDir, `${id}-${rc.name}.onnx`);
        try {
          const r = await q.quantizeModel(readFileSync(fp32.modelPath), { calib: join(sharedData, 'images/calib'), method: rc.method, weightBits: rc.bits, resolution: int8.resolution,
            ...(rc.plain ? { equalize: false, adaround: false, calibViews: [{ name: 'centre', crop: 1, ax: 0.5, ay: 0.5, flip: false, brightness: 1 }] } : {}) });
          await writeFileAtomic(path, r.onnx);
          arms.push({ name: rc.name, what: rc.what, path });
        } catch (err) {
          notes.push(`${id}: src/quant (${rc.name}) could not quantize the fp32 twin: ${(err as Error).message}`);
        }
      }
    }
    arms.push({ name: 'fp32', what: 'fp32 twin (dequantized weights)', path: fp32.modelPath });
    data.push(await compare(ctx, id, int8, arms, rows, targets));
  }
  return {
    name: 'quantizer',
    title: 'Quantizer: edgefit int8 vs conventional QDQ of the same weights, 1 thread (ms)',
    table: table(['network', 'graph', 'p50', 'p90', 'CPU p50', 'vs edgefit (paired)', 'top-1 = fp32', 'ORT kernels'], rows),
    targets,
    notes: [
      'Same weights in every arm: the conventional graph is built from the dequantized twin of the TFLite file.',
      ...notes,
    ],
    data,
  };
}

async function compare(ctx: BenchContext, id: string, v: Variant, arms: Arm[], rows: string[][], targets: Target[]): Promise<unknown> {
  const res = v.resolution;
  const photos = await ctx.photos(res, 19);
  const sessions = new Map<string, BareSession>();
  for (const a of arms) sessions.set(a.name, await bareSession(a.path, res, 1));
  const frame = photos[0]!;
  const fns: Record<string, () => Promise<ArmResult>> = {};
  for (const [n, s] of sessions) fns[n] = async () => ({ ms: await s.run(frame), cpuMs: s.lastCpuMs });
  ctx.log(`quantizer: ${id} (${arms.map((a) => a.name).join(' vs ')})`);
  const r = await interleave(fns, { rounds: ctx.quick ? 3 : 8, block: 4, skip: 1, warmup: 1 });
  // top-1 agreement with the fp32 twin over the test photos
  const ref = sessions.get('fp32')!;
  const refTop: number[] = [];
  for (const p of photos) refTop.push(await ref.top1(p));
  const out: Record<string, unknown> = { id, arms: {} };
  for (const a of arms) {
    const s = sessions.get(a.name)!;
    let agree = 0;
    for (let i = 0; i < photos.length; i++) if ((await s.top1(photos[i]!)) === refTop[i]) agree++;
    const sum = summarize(r.samples[a.name]!);
    const cpu = summarize(r.cpuSamples[a.name]!);
    const vs = a.name === 'edgefit' ? Number.NaN : pairedRatio(r.blocks[a.name]!, r.blocks.edgefit!);
    const vsCpu = a.name === 'edgefit' ? Number.NaN : pairedRatio(r.cpuBlocks[a.name]!, r.cpuBlocks.edgefit!);
    const k = await kernels(a.path);
    rows.push([id, a.what, fmt(sum.p50, 2), fmt(sum.p90, 2), fmt(cpu.p50, 2), a.name === 'edgefit' ? '1.00' : `${fmt(vs, 2)} (CPU ${fmt(vsCpu, 2)})`, `${agree}/${photos.length}`, k]);
    (out.arms as Record<string, unknown>)[a.name] = { what: a.what, wall: sum, cpu, overEdgefit: vs, overEdgefitCpu: vsCpu, top1AgreeWithFp32: agree, photos: photos.length, kernels: k };
    if (a.name === 'conventional') {
      targets.push({ what: `${id}: conventional QDQ time / edgefit int8 time (1 thread)`, target: '(reported)', measured: `${fmt(vs, 2)} (CPU ${fmt(vsCpu, 2)}); top-1 = fp32 on ${agree}/${photos.length} photos`, met: null });
    }
  }
  for (const s of sessions.values()) await s.release();
  return out;
}
