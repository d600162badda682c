import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { profiledState, pulledState } from './daemon.js';
import type { Detection } from '../../src/types/detection.js';

/** the shipped catalog's COCO detector */
export const SSD_ID = 'ssd_mobilenet_v2-1.0-300-int8';

/**
 * A state directory with the COCO SSD-MobileNet-v2 and a small ImageNet classifier (for a change of task) pulled
 * from ../shared/data as a mirror through the shipped catalog (real pull, sha256, conversion in a child).
 */
export function detectorState(): Promise<string> {
  return pulledState([SSD_ID, 'mobilenet_v1-0.25-128-int8']);
}

/** detectorState with the detection ladder measured (profiledState) */
export function profiledDetectorState(): Promise<string> {
  return profiledState([SSD_ID, 'mobilenet_v1-0.25-128-int8'], ['models.task=detection']);
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
