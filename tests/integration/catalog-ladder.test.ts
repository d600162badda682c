import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { pullModels, buildLadder, ladderWarning, ladderResolutions, downloadPath, loadCatalog } from '../../src/catalog/index.js';
import type { Variant } from '../../src/catalog/types.js';

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'edgefit-ladder-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

function configFor(stateDir: string, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ env: {}, overrides: { stateDir, ...overrides }, host: { hostname: 't', isRoot: false, home: work } }).config;
}

async function runAt(v: Variant): Promise<number> {
  const s = await ort.InferenceSession.create(v.modelPath);
  try {
    const pixels = new Uint8Array(v.resolution * v.resolution * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 255;
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', pixels, [1, v.resolution, v.resolution, 3]) });
    return out[s.outputNames[0]!]!.data.length;
  } finally {
    await s.release();
  }
}

describe('ladderResolutions', () => {
  it('adds two smaller multiples of 32, not below 96, only for models that run at any size', () => {
    expect(ladderResolutions(224, true)).toEqual([224, 192, 160]);
    expect(ladderResolutions(192, true)).toEqual([192, 160, 128]);
    expect(ladderResolutions(128, true)).toEqual([128, 96]);
    expect(ladderResolutions(100, true)).toEqual([100, 96]);
    expect(ladderResolutions(96, true)).toEqual([96]);
    expect(ladderResolutions(224, false)).toEqual([224]);
  });
});

describe('zoo fallback', () => {
  it('runs random-weight zoo models, marked pretrained: false with a loud warning, when nothing is pulled', async () => {
    const config = configFor(join(work, 'zoo'));
    const opts = { zooAlphas: [0.25], zooResolutions: [96, 128] };
    const logs: string[] = [];
    const variants = await buildLadder(config, { ...opts, log: (l) => logs.push(l) });
    expect(variants.map((v) => v.id)).toEqual(['zoo-mobilenet_v1-0.25-96-fp32', 'zoo-mobilenet_v1-0.25-128-fp32']);
    for (const v of variants) {
      expect(v.pretrained).toBe(false);
      expect(v.source).toBe('zoo');
      expect(v.labelsPath).toBeUndefined();
      // random weights: no published figure applies, and none is estimated (nor any agreement measured)
      expect(v.referenceAccuracy ?? v.estimatedAccuracy).toBeUndefined();
      expect(v.nativeResolution).toBeUndefined();
      expect(v.sha256).toBe(createHash('sha256').update(readFileSync(v.modelPath)).digest('hex'));
      expect(await runAt(v)).toBe(1000);
    }
    // cost grows with resolution, parameters do not
    expect(variants[1]!.macs).toBeGreaterThan(variants[0]!.macs);
    expect(variants[1]!.params).toBe(variants[0]!.params);
    expect(ladderWarning(variants)).toMatch(/MEANINGLESS.*edgefit models pull/);
    expect(logs.join('\n')).toContain('random weights');
    // generated once
    const mtime = statSync(variants[0]!.modelPath).mtimeMs;
    await buildLadder(config, opts);
    expect(statSync(variants[0]!.modelPath).mtimeMs).toBe(mtime);
  });

  it('is off when models.allowZooFallback is false', async () => {
    const variants = await buildLadder(configFor(join(work, 'nozoo'), { 'models.allowZooFallback': false }));
    expect(variants).toEqual([]);
    expect(ladderWarning(variants)).toContain('edgefit models pull');
  });
});

describe('pretrained ladder', () => {
  const stateDir = () => join(work, 'pre');
  const ids = ['mobilenet_v1-0.25-128-int8', 'mobilenet_v1-0.25-224-fp32', 'vww-mobilenet_v1-0.25-96-int8'];

  beforeAll(async () => {
    const r = await pullModels(configFor(stateDir()), { mirror: sharedData, only: ids });
    expect(r.ok, JSON.stringify(r.items.filter((i) => i.convertError || i.error))).toBe(true);
  }, 120_000);

  it('lists each pulled model at its resolutions, int8 and dequantized fp32, with labels and costs', async () => {
    const variants = await buildLadder(configFor(stateDir()));
    const byId = new Map(variants.map((v) => [v.id, v]));
    expect([...byId.keys()].sort()).toEqual([
      'mobilenet_v1-0.25-128-fp32-deq', 'mobilenet_v1-0.25-128-fp32-deq@96',
      'mobilenet_v1-0.25-128-int8', 'mobilenet_v1-0.25-128-int8@96',
      'mobilenet_v1-0.25-224-fp32',
    ]);
    expect(ladderWarning(variants)).toBeUndefined();
    const native = byId.get('mobilenet_v1-0.25-128-int8')!;
    const smaller = byId.get('mobilenet_v1-0.25-128-int8@96')!;
    expect(native.precision).toBe('int8');
    expect(byId.get('mobilenet_v1-0.25-128-fp32-deq')!.precision).toBe('fp32');
    expect(native.referenceAccuracy).toBeCloseTo(0.395, 3);
    expect(native.nativeResolution).toBe(128);
    // below its training resolution a rung has no published figure: an estimate from the published drop
    expect(smaller.referenceAccuracy).toBeUndefined();
    expect(smaller.nativeResolution).toBe(128);
    expect(smaller.estimatedAccuracy).toBe(0.307);
    expect(smaller.accuracyBasis).toMatch(/^estimated: 39\.5% at 128 minus 1\.5 x the published 128->96 drop of mobilenet_v1 0\.25 quantized .*tensorflow\/models\/research\/slim\/nets\/mobilenet_v1\.md\)$/);
    expect(byId.get('mobilenet_v1-0.25-128-fp32-deq@96')!.estimatedAccuracy).toBe(0.307);
    expect(native.macs).toBeGreaterThan(smaller.macs);
    // the published cost of MobileNet-v1 0.25/128 is about 14 M MACs and 0.47 M parameters
    expect(native.macs).toBeGreaterThan(12e6);
    expect(native.macs).toBeLessThan(16e6);
    for (const v of variants) {
      expect(v.pretrained).toBe(true);
      expect(v.labelsPath).toBeDefined();
      expect(readFileSync(v.labelsPath!, 'utf8').split('\n').filter(Boolean).length).toBe(v.id.includes('224') ? 1000 : 1001);
      expect(v.sha256).toBe(createHash('sha256').update(readFileSync(v.modelPath)).digest('hex'));
    }
    expect(await runAt(smaller)).toBe(1001);
    expect(await runAt(byId.get('mobilenet_v1-0.25-224-fp32')!)).toBe(1000);
  });

  it('keeps the person detector to the person task', async () => {
    const variants = await buildLadder(configFor(stateDir(), { 'models.task': 'person' }));
    expect(variants.length).toBeGreaterThan(0);
    for (const v of variants) {
      expect(v.id.startsWith('vww-')).toBe(true);
      // the ImageNet tables say nothing about a person detector of the same family
      expect(v.referenceAccuracy ?? v.estimatedAccuracy).toBeUndefined();
      expect(readFileSync(v.labelsPath!, 'utf8')).toBe('non_person\nperson\n');
    }
    expect(await runAt(variants[0]!)).toBe(2);
  });

  it('reconverts a converted model whose bytes changed on disk', async () => {
    const before = (await buildLadder(configFor(stateDir()))).find((v) => v.id === 'mobilenet_v1-0.25-128-int8')!;
    const bytes = readFileSync(before.modelPath);
    bytes[bytes.length - 100] ^= 0xff;
    writeFileSync(before.modelPath, bytes);
    const after = (await buildLadder(configFor(stateDir()))).find((v) => v.id === 'mobilenet_v1-0.25-128-int8')!;
    expect(after.modelPath).toBe(before.modelPath);
    expect(after.sha256).toBe(before.sha256);
    expect(createHash('sha256').update(readFileSync(after.modelPath)).digest('hex')).toBe(before.sha256);
  });

  it('never converts a source file that no longer matches its sha256', async () => {
    const dir = join(work, 'tampered');
    await pullModels(configFor(dir), { mirror: sharedData, only: ['mobilenet_v1-0.25-128-int8'], convert: false });
    const entry = loadCatalog().models.find((m) => m.id === 'mobilenet_v1-0.25-128-int8')!;
    const p = downloadPath(dir, entry.file);
    const bytes = readFileSync(p);
    bytes[bytes.length >> 1] ^= 1;
    writeFileSync(p, bytes);
    const logs: string[] = [];
    const variants = await buildLadder(configFor(dir, { 'models.allowZooFallback': false }), { log: (l) => logs.push(l) });
    expect(variants).toEqual([]);
    expect(logs.join('\n')).toContain('does not match the catalog sha256');
  });
});
