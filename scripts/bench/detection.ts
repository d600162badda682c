import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { pullModels } from '../../src/catalog/pull.js';
import { buildLadder } from '../../src/catalog/ladder.js';
import type { ModelCard } from '../../src/types/model.js';
import { anchorsFor } from '../../src/detect/anchors.js';
import { DetectionDecoder } from '../../src/detect/postprocess.js';
import { loadImageRgb } from '../../src/image/load.js';
import { bindTask } from '../../src/pipeline/tasks.js';
import { sharedData } from '../../src/util/paths.js';
import type { BenchContext, SectionResult, Target } from './context.js';
import { bareSession } from './session.js';
import { fmt, interleave, pairedRatio, summarize, table } from './stats.js';

const DETECTOR = 'ssd_mobilenet_v2-1.0-300-int8';
/** a photo with many objects (people, kites): the most NMS work among the test photos */
const PHOTO = 'kite_and_cold.jpg';

/**
 * The COCO SSD-MobileNet-v2 at each ladder rung (300, 256, 224): int8 against its dequantized fp32 twin, one
 * intra-op thread, interleaved; and the TypeScript post-process (decode + NMS over anchors x 91 scores) on that
 * rung's real output, timed in the same run so its share of an inference is a ratio of figures measured together.
 */
export async function detectionSection(ctx: BenchContext): Promise<SectionResult> {
  const config = ctx.config();
  const pulled = await pullModels(config, { mirror: sharedData, only: [DETECTOR] });
  if (!pulled.ok) throw new Error(`the detector did not pull: ${JSON.stringify(pulled.items.filter((i) => i.error || i.convertError))}`);
  config.models.task = 'detection';
  const ladder = await buildLadder(config, { log: (l) => ctx.log(`detection ladder: ${l}`) });
  const byId = new Map(ladder.map((v) => [v.id, v]));
  const rounds = ctx.quick ? 3 : 10;
  const block = ctx.quick ? 3 : 4;
  const rows: string[][] = [];
  const data: unknown[] = [];
  const targets: Target[] = [];
  const decoder = new DetectionDecoder();
  for (const int8 of ladder.filter((v) => v.precision === 'int8').sort((a, b) => b.resolution - a.resolution)) {
    const fp32 = byId.get(int8.id.replace('int8', 'fp32-deq'));
    const res = int8.resolution;
    const card = JSON.parse(readFileSync(int8.modelPath.replace(/\.onnx$/, '.card.json'), 'utf8')) as ModelCard;
    const spec = card.detection!;
    const anchors = anchorsFor(spec, res, card.resolution);
    const frame = await loadImageRgb(join(sharedData, 'images/test', PHOTO), res, 'stretch');
    const q = await bareSession(int8.modelPath, res, 1);
    const f = fp32 ? await bareSession(fp32.modelPath, res, 1) : undefined;
    const raw = await rawOutput(q.session, frame, res);
    const regular = { ...spec, postprocess: { ...spec.postprocess, useRegularNms: true, detectionsPerClass: 100 } };
    const detections = decoder.decode(raw, spec, anchors, card.labels).length;
    // what the pipeline runs per frame: the detection task bound once to this rung (decode, minScore, counts by label)
    const task = bindTask('detection', { variantId: int8.id, resolution: res, nativeResolution: card.resolution ?? res, labels: card.labels, detection: spec }, { topK: 0, scoreThreshold: 0, minScore: 0.5, labels: [] });
    ctx.log(`detection: ${int8.id} int8${f ? ' vs fp32' : ''}, post-process (${anchors.length / 4} anchors x ${spec.postprocess.numClasses + 1} scores), 1 thread`);
    const r = await interleave({
      int8: async () => ({ ms: await q.run(frame), cpuMs: q.lastCpuMs }),
      ...(f ? { fp32: async () => ({ ms: await f.run(frame), cpuMs: f.lastCpuMs }) } : {}),
      // many calls per sample: one call is well under a millisecond, below the timer's useful resolution
      post: async () => {
        const n = 20;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) decoder.decode(raw, spec, anchors, card.labels);
        return (performance.now() - t0) / n;
      },
      task: async () => {
        const n = 20;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) task(raw);
        return (performance.now() - t0) / n;
      },
      postRegular: async () => {
        const t0 = performance.now();
        decoder.decode(raw, regular, anchors, card.labels);
        return performance.now() - t0;
      },
    }, { rounds, block, skip: 1, warmup: 1 });
    await q.release();
    await f?.release();
    const s = (arm: string) => (r.samples[arm] ? summarize(r.samples[arm]!) : undefined);
    const [si, sf, sp, sr, st] = [s('int8'), s('fp32'), s('post'), s('postRegular'), s('task')];
    const i8OverF32 = f ? pairedRatio(r.blocks.int8!, r.blocks.fp32!) : Number.NaN;
    // CPU time of the run itself: contention from other processes inflates wall time, hardly CPU time
    const i8OverF32Cpu = f ? pairedRatio(r.cpuBlocks.int8!, r.cpuBlocks.fp32!) : Number.NaN;
    const postShare = pairedRatio(r.blocks.post!, r.blocks.int8!);
    rows.push([
      int8.id, String(res), String(anchors.length / 4), (int8.macs / 1e6).toFixed(0),
      `${fmt(si?.p50)}/${fmt(si?.p90)}`, sf ? `${fmt(sf.p50)}/${fmt(sf.p90)}` : '-', fmt(i8OverF32, 2), fmt(i8OverF32Cpu, 2),
      fmt(sp?.p50, 3), `${fmt(postShare * 100, 1)}%`, fmt(st?.p50, 3), fmt(sr?.p50, 2), String(detections),
    ]);
    data.push({ id: int8.id, fp32: fp32?.id, resolution: res, anchors: anchors.length / 4, macs: int8.macs, int8: si, fp32Ms: sf, int8OverFp32: i8OverF32, int8OverFp32Cpu: i8OverF32Cpu, postprocessMs: sp, postprocessRegularNmsMs: sr, taskMs: st, postprocessOverInt8: postShare, detections, rounds, block });
    if (res === 300) {
      targets.push({ what: 'detector post-process (1917 anchors x 91 classes, fast NMS) / int8 inference (1 thread, p50)', target: '<= 0.05', measured: fmt(postShare, 3), met: postShare <= 0.05 });
    }
  }
  return {
    name: 'detection',
    title: 'Detector (COCO SSD-MobileNet-v2): int8 vs fp32 twin per rung, and the TypeScript post-process (ms, p50/p90, 1 thread)',
    table: table(['variant', 'res', 'anchors', 'MMACs', 'int8', 'fp32', 'i8/f32', 'i8/f32 CPU', 'post (fast NMS)', 'post/int8', 'task', 'post (regular NMS)', 'dets'], rows),
    targets,
    notes: [
      `Frames: images/test/${PHOTO} stretched to the rung (libvips, as the folder source does); the post-process runs on that rung's real int8 output with the card's options (fast NMS, max 20) and anchors regenerated for the rung.`,
      'fp32 is the dequantized twin of the TFLite uint8 file (same weights); the int8 graph keeps the uint8 weights of the file, run by u8u8 kernels that on x64 are not faster than fp32 (docs/performance.md, section 1). "post/int8" is the median of per-round paired ratios of the post-process time to the int8 inference time.',
      '"task" is what the pipeline runs per frame (src/pipeline/tasks.ts, bound once per rung): the same decode with minScore 0.5, then the counts by label.',
      '"post (regular NMS)" runs the same output with use_regular_nms (per-class NMS, 100 per class) for comparison; the model itself asks for fast NMS.',
    ],
    data,
  };
}

async function rawOutput(session: ort.InferenceSession, frame: Uint8Array, res: number): Promise<Float32Array> {
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('uint8', frame, [1, res, res, 3]) });
  return (out[session.outputNames[0]!]!.data as Float32Array).slice();
}
