import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { pullModels } from '../../src/catalog/pull.js';
import type { Detection } from '../../src/types/detection.js';

/**
 * A state directory with the COCO SSD-MobileNet-v2 (and a small ImageNet classifier, for a change of task) pulled
 * from ../shared/data as a mirror through a catalog of its own (real pull, sha256, conversion in a child), so the
 * test does not depend on which ids the shipped catalog gives them.
 */
export async function detectorState(): Promise<{ stateDir: string; catalog: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-det-'));
  const shipped = JSON.parse(readFileSync(join(projectRoot, 'models/catalog.json'), 'utf8')) as { labels: { id: string }[]; models: { id: string }[] };
  const catalog = join(dir, 'catalog.json');
  writeFileSync(catalog, JSON.stringify({
    version: 1,
    description: 'test catalog: the COCO detector and one classifier',
    labels: [
      shipped.labels.find((l) => l.id === 'imagenet-1001'),
      { id: 'coco-test', file: 'labels/coco_labels.txt', sha256: '93f235896748537fc71325a070ee32e9a0afda2481ceb943559325619763fa6d', urls: [] },
    ],
    models: [
      {
        id: 'test-ssd-mobilenet_v2-300-int8', task: 'detection', family: 'mobilenet_v2', alpha: 1, resolution: 300, precision: 'int8', format: 'tflite',
        referenceAccuracy: 0.22, labels: 'coco-test', file: 'models/detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite',
        sha256: '7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd', urls: [], licence: 'Apache-2.0',
      },
      shipped.models.find((m) => m.id === 'mobilenet_v1-0.25-128-int8'),
    ],
  }, null, 1));
  const stateDir = join(dir, 'state');
  const { config } = loadConfig({ env: {}, overrides: { stateDir, 'models.catalog': catalog }, host: { hostname: 'test', isRoot: false, home: tmpdir() } });
  const report = await pullModels(config, { mirror: sharedData });
  if (!report.ok) throw new Error(`pull failed: ${JSON.stringify(report.items)}`);
  return { stateDir, catalog };
}

interface RefDet { box: [number, number, number, number]; label: string; score: number }

/** reference/ssd_v2_armnn_detections.json: Arm NN's detections per test photo */
export function ssdReference(): Record<string, { detections: RefDet[]; all_raw_detections: RefDet[] }> {
  return JSON.parse(readFileSync(join(sharedData, 'reference/ssd_v2_armnn_detections.json'), 'utf8')).sets.coral_test;
}

export function iou(a: readonly number[], b: readonly number[]): number {
  const [ay0, ax0, ay1, ax1] = a as [number, number, number, number];
  const [by0, bx0, by1, bx1] = b as [number, number, number, number];
  const ih = Math.max(0, Math.min(ay1, by1) - Math.max(ay0, by0));
  const iw = Math.max(0, Math.min(ax1, bx1) - Math.max(ax0, bx0));
  const inter = ih * iw;
  const union = (ay1 - ay0) * (ax1 - ax0) + (by1 - by0) * (bx1 - bx0) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Each of `want` paired with a same-label detection of `pool` (each used once, best overlap first); the unpaired
 * come back with iou 0.
 */
export function pair(want: readonly { label: string; box: readonly number[] }[], pool: readonly { label: string; box: readonly number[] }[]): { label: string; iou: number }[] {
  const used = new Set<number>();
  const cands = want.flatMap((w, i) => pool.map((p, j) => ({ i, j, o: p.label === w.label ? iou(w.box, p.box) : -1 }))).filter((c) => c.o >= 0).sort((x, y) => y.o - x.o);
  const got = new Map<number, number>();
  for (const c of cands) if (!got.has(c.i) && !used.has(c.j)) { got.set(c.i, c.o); used.add(c.j); }
  return want.map((w, i) => ({ label: w.label, iou: got.get(i) ?? 0 }));
}

/**
 * Does a result's detection list agree with a photo's reference: every reference detection >= 0.5 has a same-label
 * box of IoU >= 0.8 among ours, and every one of ours >= 0.5 is one of the reference's raw detections (a score one
 * quantization step from 0.5 may fall on either side between two runtimes, hence the raw list on that side).
 */
export function agrees(ours: readonly Pick<Detection, 'label' | 'box' | 'score'>[], ref: { all_raw_detections: RefDet[] }, minIou = 0.8): boolean {
  const wanted = ref.all_raw_detections.filter((d) => d.score >= 0.5);
  const strong = ours.filter((d) => d.score >= 0.5);
  return pair(wanted, ours).every((p) => p.iou >= minIou) && pair(strong, ref.all_raw_detections).every((p) => p.iou >= minIou);
}
