import { join } from 'node:path';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { tfjsEngineFactory } from '../../src/engine/tfjs/factory.js';
import { checkTfjsProvider } from '../../src/device/providers-tfjs.js';
import type { Engine } from '../../src/engine/engine.js';
import type { ProviderName } from '../../src/types/provider.js';
import { loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';
import type { BenchContext, SectionResult } from './context.js';
import { fmt, fmtRange, interleave, pairedRatio, summarize, table } from './stats.js';

/**
 * What the TensorFlow.js fallback costs: every native ImageNet rung of the ladder (int8 imports and their fp32
 * twins) on onnxruntime's cpu provider and on tfjs-wasm (and tfjs-node where its optional package loads), one
 * thread, interleaved, the same frame; plus whether each gives onnxruntime's top-1 on it. tfjs keeps one backend
 * per process, so tfjs-node (if it loads) is measured after the tfjs-wasm rounds, against onnxruntime again.
 */
export async function tfjsSection(ctx: BenchContext): Promise<SectionResult> {
  const rounds = ctx.quick ? 3 : 8;
  const block = ctx.quick ? 3 : 5;
  const ladder = (await ctx.ladder()).filter((v) => v.resolution === v.nativeResolution && !v.detection);
  const node = await checkTfjsProvider('tfjs-node');
  const tfjsProviders: ProviderName[] = node.works ? ['tfjs-wasm', 'tfjs-node'] : ['tfjs-wasm'];
  if (!node.works) ctx.log(`tfjs: tfjs-node not measured: ${node.evidence}`);
  const rows: string[][] = [];
  const data: unknown[] = [];
  const ratios: Record<string, number[]> = {};
  const argmax = (s: Float32Array) => { let b = 0; for (let i = 1; i < s.length; i++) if (s[i]! > s[b]!) b = i; return b; };
  for (const p of tfjsProviders) {
    for (const v of [...ladder].sort((a, b) => a.id.localeCompare(b.id))) {
      const frame = await loadImageRgb(join(sharedData, 'images/test/cat.bmp'), v.resolution);
      let tf: Engine;
      try {
        tf = await tfjsEngineFactory.load(v.modelPath, { providers: [p], threads: 1, resolution: v.resolution });
      } catch (err) {
        rows.push([v.id, p, '-', '-', '-', '-', `does not load: ${(err as Error).message.replace(/^.*?\.onnx: /, '').slice(0, 80)}`]);
        continue;
      }
      const ort = await OrtEngine.load(v.modelPath, { providers: ['cpu'], threads: 1, resolution: v.resolution });
      ctx.log(`tfjs: ${v.id} onnxruntime cpu vs ${tf.provider}, 1 thread`);
      const sameTop1 = argmax((await ort.run(frame)).scores) === argmax((await tf.run(frame)).scores);
      const r = await interleave({ ort: async () => (await ort.run(frame)).inferMs, tfjs: async () => (await tf.run(frame)).inferMs }, { rounds, block, skip: 1, warmup: 2 });
      await ort.close();
      await tf.close();
      const o = summarize(r.samples.ort!);
      const t = summarize(r.samples.tfjs!);
      const ratio = pairedRatio(r.blocks.tfjs!, r.blocks.ort!);
      (ratios[p] ??= []).push(ratio);
      rows.push([v.id, p, fmt(o.p50, 2), fmt(t.p50, 2), fmt(t.p90, 2), fmt(ratio, 1), sameTop1 ? 'yes' : 'no']);
      data.push({ id: v.id, provider: p, onnxruntime: o, tfjs: t, tfjsOverOrt: ratio, sameTop1, rounds, block });
    }
  }
  const summary = Object.entries(ratios).map(([p, rs]) => `${p}: ${fmtRange(rs, 1, 'x')}`).join('; ');
  return {
    name: 'tfjs',
    title: 'The TensorFlow.js fallback: onnxruntime cpu vs tfjs-wasm (and tfjs-node) on the ladder\'s native rungs (ms p50, 1 thread)',
    table: table(['variant', 'tfjs provider', 'ort p50', 'tfjs p50', 'tfjs p90', 'tfjs/ort', 'same top-1'], rows),
    targets: [{ what: 'tfjs / onnxruntime latency (what a board without onnxruntime pays)', target: 'reported', measured: summary || '-', met: null }],
    notes: [
      'int8 rungs run on TensorFlow.js as the float graph they simulate with every activation rounded to its integer grid (src/onnx/dequantize-qdq.ts): no integer kernels, so they are slower there than their fp32-deq twins; the profiler measures both and a tfjs board picks the faster.',
      `tfjs-node: ${node.works ? 'measured' : node.evidence}.`,
      'Frame: images/test/cat.bmp, centre-cropped to the rung. Ratios are medians of per-round paired ratios.',
    ],
    data,
  };
}
