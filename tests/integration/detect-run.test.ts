import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { DaemonProcess, copyState, fastProfile } from '../helpers/daemon.js';
import { agrees, profiledDetectorState, ssdReference, SSD_ID } from '../helpers/detector.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import type { DetectionEntry, ResultPayload } from '../../src/mqtt/payloads.js';

/**
 * Issue 17, "Done when": `edgefit run --camera folder:<test photos> --json` with the detection task prints boxes
 * that match the independent runtime's (Arm NN, reference/ssd_v2_armnn_detections.json): same labels, IoU >= 0.8
 * for score >= 0.5, through edgefit's own resize (the folder source stretches each photo) and decoding.
 */
const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(projectRoot, 'schemas/mqtt/result.schema.json'), 'utf8')));
const reference = ssdReference();
const photos = Object.keys(reference).filter((p) => reference[p]!.all_raw_detections.some((d) => d.score >= 0.5));

describe('edgefit run with models.task detection', () => {
  let state: string;
  beforeAll(async () => { state = await profiledDetectorState(); }, 180_000);

  it('prints results whose boxes match the reference runtime on every test photo', async () => {
    const d = new DaemonProcess([
      '--no-mqtt', '--json', '--state-dir', copyState(state), '--device-id', 'cam-det', ...fastProfile,
      '--set', 'models.task=detection', '--set', 'budget.latencyMs=60000',
      '--camera', `folder:${join(sharedData, 'images/test')}`, '--set', 'camera.fps=6',
      '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=100', '--set', 'mqtt.results.minScore=0.45',
    ]);
    const results = () => d.lines() as unknown as ResultPayload[];
    const matched = (): string[] => photos.filter((p) => results().some((r) => agrees(r.detections ?? [], reference[p]!)));
    try {
      await d.waitFor(() => matched().length === photos.length, `results matching all of ${photos.join(', ')} (matched: ${matched().join(', ')})`, 240_000);
    } finally {
      await d.stop();
    }
    expect(new Set(results().map((r) => r.variant.replace(/-(int8|fp32-deq)(@\d+)?$/, '')))).toEqual(new Set([SSD_ID.replace(/-int8$/, '')]));
    for (const r of results()) {
      expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
      expect(r.top).toEqual([]);
      // counts are the detections by label, and nothing below minScore is reported
      const counts: Record<string, number> = {};
      for (const x of r.detections!) counts[x.label] = (counts[x.label] ?? 0) + 1;
      expect(r.counts).toEqual(counts);
      expect(r.detections!.every((x: DetectionEntry) => x.score >= 0.45)).toBe(true);
      // every result is one of the photos' (the frames hold nothing else): its strong boxes are a reference's
      const strong = r.detections!.filter((x) => x.score >= 0.5);
      if (strong.length > 0) expect(Object.values(reference).some((ref) => agrees(r.detections!, ref)), JSON.stringify(r.detections)).toBe(true);
    }
  }, 300_000);

  it('through ffmpeg (a photo as a camera file: the whole frame scaled by ffmpeg, no crop) the boxes match too', async () => {
    const d = new DaemonProcess([
      '--no-mqtt', '--json', '--state-dir', copyState(state), '--device-id', 'cam-ffmpeg', ...fastProfile,
      '--set', 'models.task=detection', '--set', 'budget.latencyMs=60000', '--camera', `file:${join(sharedData, 'images/test/cat_720p.jpg')}`, '--set', 'camera.fps=4',
    ]);
    try {
      await d.waitFor(() => d.lines().length >= 1, 'a result', 240_000);
    } finally {
      await d.stop();
    }
    const r = d.lines()[0] as unknown as ResultPayload;
    // a 16:9 photo: a centre crop would move and cut the cat's box
    expect(agrees(r.detections!, reference['cat_720p.jpg']!), JSON.stringify(r.detections)).toBe(true);
  }, 300_000);

  it('edgefit infer prints a detector\'s boxes (JSON) matching the reference, and --draw writes each photo with its boxes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'edgefit-draw-'));
    const img = (n: string) => join(sharedData, 'images/test', n);
    const r = spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'infer', join(sharedData, 'models/detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite'),
      img('pets.jpg'), img('grace_hopper.bmp'), '--labels', join(sharedData, 'labels/coco_labels.txt'), '--json', '--draw', out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { path: string; detections: DetectionEntry[]; counts: Record<string, number>; drawn: string }[];
    expect(res.map((x) => x.counts)).toEqual([{ dog: 2 }, expect.objectContaining({ person: 1 })]);
    for (const [i, name] of (['pets.jpg', 'grace_hopper.bmp'] as const).entries()) {
      expect(agrees(res[i]!.detections, reference[name]!), name).toBe(true);
      expect(res[i]!.drawn).toBe(join(out, `${name.replace(/\.\w+$/, '')}.boxes.jpg`));
      const meta = await sharp(res[i]!.drawn).metadata();
      const src = name.endsWith('.jpg') ? await sharp(img(name)).metadata() : { width: 512, height: 600 };
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', src.width, src.height]);
    }
  }, 180_000);
});
