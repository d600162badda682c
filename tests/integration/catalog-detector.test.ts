import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { pullModels, buildLadder, loadCatalog } from '../../src/catalog/index.js';
import { validateCatalog } from '../../src/catalog/catalog.js';
import { detectorResolutions } from '../../src/catalog/ladder.js';
import { parseTflite } from '../../src/importers/tflite/schema.js';
import { tfliteCost } from '../../src/importers/tflite/cost.js';
import { EdgefitError } from '../../src/util/errors.js';
import type { ModelCard } from '../../src/types/model.js';

const ID = 'ssd_mobilenet_v2-1.0-300-int8';
let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'edgefit-detector-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

function configFor(stateDir: string, task: string): Config {
  const config = loadConfig({ env: {}, overrides: { stateDir }, host: { hostname: 't', isRoot: false, home: work } }).config;
  // the detection task of the configuration schema comes with the run side of issue 17; the ladder only reads the name
  (config.models as { task: string }).task = task;
  return config;
}

describe('the detector in the catalog', () => {
  it('is listed as task detection with its head, the manifest sha256 and the COCO labels', () => {
    const c = loadCatalog();
    const m = c.models.find((x) => x.id === ID)!;
    expect(m).toMatchObject({ task: 'detection', head: 'ssd', family: 'mobilenet_v2', alpha: 1, resolution: 300, precision: 'int8', format: 'tflite', labels: 'coco-90', licence: 'Apache-2.0' });
    expect(m.urls[0]).toMatch(/^https:\/\/github\.com\/google-coral\/edgetpu\/raw\/285cacf0[0-9a-f]+\/test_data\/mobilenet_ssd_v2_coco_quant_postprocess\.tflite$/);
    const manifest = readFileSync(join(sharedData, 'MANIFEST.sha256'), 'utf8');
    expect(manifest).toContain(`${m.sha256}  ${m.file}`);
    const labels = c.labels.find((l) => l.id === 'coco-90')!;
    expect(manifest).toContain(`${labels.sha256}  ${labels.file}`);
  });

  it('validation: a detection model needs a head, other tasks must not have one', () => {
    const raw = JSON.parse(readFileSync(loadCatalog().path, 'utf8'));
    const det = raw.models.find((x: { id: string }) => x.id === ID);
    delete det.head;
    expect(() => validateCatalog(raw, 'x')).toThrow(/models\[\d+\]\.head must be ssd or ssdlite for a detection model/);
    det.head = 'ssd';
    raw.models[0].head = 'ssd';
    expect(() => validateCatalog(raw, 'x')).toThrow(EdgefitError);
    raw.models[0].head = undefined;
    delete raw.models[0].head;
    det.task = 'segmentation';
    expect(() => validateCatalog(raw, 'x')).toThrow(/must be one of imagenet, person, detection/);
  });
});

describe('detector costs and rungs', () => {
  it("counts MACs on the file's own graph: the published figures of the classifiers, and the SSD at each rung", () => {
    const load = (p: string) => parseTflite(readFileSync(join(sharedData, p)), p);
    // MobileNet papers: v2 1.0/224 300 M MACs, v1 0.25/128 14 M
    expect(tfliteCost(load('models/tflite/mobilenet_v2_1.0_224_quant.tflite'), 224).macs / 1e6).toBeCloseTo(300.8, 0);
    expect(tfliteCost(load('models/tflite/mobilenet_v1_0.25_128_quant.tflite'), 128).macs / 1e6).toBeCloseTo(13.6, 0);
    const ssd = load('models/detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite');
    expect([300, 256, 224].map((r) => Math.round(tfliteCost(ssd, r).macs / 1e5) / 10)).toEqual([772.8, 528, 410.6]);
    expect(tfliteCost(ssd, 300).params).toBe(tfliteCost(ssd, 224).params);
  });

  it('a detector gets the smaller rungs only with regenerable anchors and an any-resolution graph', () => {
    expect(detectorResolutions(300, true, true)).toEqual([300, 256, 224]);
    expect(detectorResolutions(300, true, false)).toEqual([300]);
    expect(detectorResolutions(300, false, true)).toEqual([300]);
    expect(detectorResolutions(240, true, true)).toEqual([240, 224]);
  });
});

describe('pull from the shared-data mirror and the detection ladder', () => {
  const stateDir = () => join(work, 'state');

  beforeAll(async () => {
    const r = await pullModels(configFor(stateDir(), 'detection'), { mirror: sharedData, only: [ID] });
    expect(r.ok, JSON.stringify(r.items.filter((i) => i.convertError || i.error))).toBe(true);
    const item = r.items.find((i) => i.id === ID)!;
    expect(item.convert).toBe('converted');
    expect(item.convertFloat).toBe('converted');
  }, 180_000);

  it('lists the int8 detector and its dequantized fp32 twin at 300, 256 and 224 with costs and the published mAP', async () => {
    const variants = await buildLadder(configFor(stateDir(), 'detection'));
    const byId = new Map(variants.map((v) => [v.id, v]));
    expect([...byId.keys()].sort()).toEqual([
      'ssd_mobilenet_v2-1.0-300-fp32-deq', 'ssd_mobilenet_v2-1.0-300-fp32-deq@224', 'ssd_mobilenet_v2-1.0-300-fp32-deq@256',
      'ssd_mobilenet_v2-1.0-300-int8', 'ssd_mobilenet_v2-1.0-300-int8@224', 'ssd_mobilenet_v2-1.0-300-int8@256',
    ]);
    const native = byId.get(ID)!;
    expect(native.referenceAccuracy).toBe(0.22);
    expect(native.accuracyBasis).toMatch(/published COCO mAP of ssd_mobilenet_v2_quantized_coco \(tensorflow\/models\/research\/object_detection/);
    expect(byId.get(`${ID}@256`)!.referenceAccuracy ?? byId.get(`${ID}@256`)!.estimatedAccuracy).toBeUndefined();
    expect([300, 256, 224].map((r) => byId.get(r === 300 ? ID : `${ID}@${r}`)!.macs)).toEqual([772779056, 527957760, 410567040]);
    expect(byId.get('ssd_mobilenet_v2-1.0-300-fp32-deq')!.precision).toBe('fp32');
    for (const v of variants) {
      expect(v.family).toBe('mobilenet_v2');
      expect(v.pretrained).toBe(true);
      expect(v.nativeResolution).toBe(300);
      expect(v.sha256).toBe(createHash('sha256').update(readFileSync(v.modelPath)).digest('hex'));
      const card = JSON.parse(readFileSync(v.modelPath.replace(/\.onnx$/, '.card.json'), 'utf8')) as ModelCard;
      expect(card.task).toBe('detection');
      expect(card.detection!.anchorGenerator).toBeDefined();
      expect(card.labels).toHaveLength(90);
    }
    // the 224 rung really runs: 1014 anchors x (4 + 91)
    const s = await ort.InferenceSession.create(byId.get(`${ID}@224`)!.modelPath);
    const out = await s.run({ input: new ort.Tensor('uint8', new Uint8Array(224 * 224 * 3).fill(90), [1, 224, 224, 3]) });
    expect(out.raw!.dims).toEqual([1, 1014, 95]);
    await s.release();
  });

  it('keeps the detector out of the classification ladders', async () => {
    for (const task of ['imagenet', 'person']) {
      const variants = await buildLadder(configFor(stateDir(), task), { zooAlphas: [0.25], zooResolutions: [96] });
      expect(variants.some((v) => v.id.startsWith('ssd_'))).toBe(false);
    }
  });
});
