import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { importTflite } from '../../src/importers/tflite/index.js';
import { importModel } from '../../src/importers/index.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { loadImageRgb } from '../../src/image/load.js';
import { IMAGENET_MODELS, tflitePath, imagenetLabels, runRaw, pixels, argmax, firstName } from './tflite-helpers.js';

const VWW = join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww_int8.tflite');
const VWW_H5 = join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5');
const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });

describe('imported QAT models at other resolutions', () => {
  for (const model of ['mobilenet_v1_0.5_160_quant.tflite', 'mobilenet_v2_1.0_224_quant.tflite']) {
    it(`${model} runs at two non-native resolutions with sensible top-1`, async () => {
      const r = await importTflite(tflitePath(model), { labelsPath: imagenetLabels });
      expect(r.card.anyResolution).toBe(true);
      const s = await session(r.onnx);
      for (const size of [r.card.resolution! - 32, r.card.resolution! + 64]) {
        const out = await s.run({ input: new ort.Tensor('uint8', await loadImageRgb(join(sharedData, 'images/test/parrot.jpg'), size), [1, size, size, 3]) });
        const y = out[s.outputNames[0]!]!;
        expect(y.dims).toEqual([1, 1001]);
        expect(firstName(r.card.labels![argmax(y.data as Uint8Array)]!)).toBe('macaw');
        const cat = await s.run({ input: new ort.Tensor('uint8', await loadImageRgb(join(sharedData, 'images/test/cat.bmp'), size), [1, size, size, 3]) });
        expect(['tabby', 'tiger cat', 'Egyptian cat']).toContain(firstName(r.card.labels![argmax(cat[s.outputNames[0]!]!.data as Uint8Array)]!));
      }
      await s.release();
    });
  }
});

describe('person detector (VWW int8)', () => {
  // obvious people (portraits, a pose photo) and obvious absence (animals, food, flowers, objects)
  // (grace_hopper.bmp is left out: the float .h5 itself puts it at 0.49, a coin toss at 96x96)
  const person = ['calib/face.jpg', 'calib/posenet_test_image.bmp', 'calib/squat.bmp'];
  const noPerson = ['test/cat.bmp', 'test/cat_720p.jpg', 'test/dragonfly.bmp', 'test/sunflower.bmp', 'test/missvickie_potato_chips.bmp', 'test/imprinting_hotdog_test_0.bmp', 'test/owl.jpg'];

  it('says person / no person on obvious photos, like its float twin and the float .h5 (when the Keras importer exists)', async () => {
    const q = await importTflite(VWW, { labelsPath: join(sharedData, 'labels/vww_labels.txt') });
    expect(q.card.labels).toEqual(['non_person', 'person']);
    expect(q.card.background).toBe(false);
    const f = await importTflite(VWW, { emit: 'float' });
    const qs = await session(q.onnx);
    const fs = await session(f.onnx);
    let ks: ort.InferenceSession | undefined;
    try {
      ks = await session((await importModel(VWW_H5)).onnx);
    } catch (err) {
      console.log(`VWW .h5 not compared: ${(err as Error).message}`);
    }
    const rows: string[] = [];
    for (const photo of [...person, ...noPerson]) {
      const px = await loadImageRgb(join(sharedData, 'images', photo), 96);
      const feed = (s: ort.InferenceSession) => ({ [s.inputNames[0]!]: new ort.Tensor('uint8', px, [1, 96, 96, 3]) });
      const qo = (await qs.run(feed(qs)))[qs.outputNames[0]!]!.data as Int8Array;
      const pq = (qo[1]! + 128) / 256; // output int8, scale 1/256, zero point -128
      const pf = ((await fs.run(feed(fs)))[fs.outputNames[0]!]!.data as Float32Array)[1]!;
      const pk = ks ? ((await ks.run(feed(ks)))[ks.outputNames[0]!]!.data as Float32Array)[1]! : undefined;
      rows.push(`${photo.padEnd(36)} int8 ${pq.toFixed(3)} float-twin ${pf.toFixed(3)}${pk !== undefined ? ` h5 ${pk.toFixed(3)}` : ''}`);
      expect(pq > 0.5, `${photo}: person probability ${pq}`).toBe(person.includes(photo));
      expect(Math.abs(pq - pf)).toBeLessThan(0.15);
      if (pk !== undefined) expect(Math.abs(pq - pk)).toBeLessThan(0.15);
    }
    console.log(rows.join('\n'));
    await qs.release();
    await fs.release();
    await ks?.release();
  });
});

describe('emission modes', () => {
  it('QDQ and QLinear emissions give the same uint8 outputs within 2 steps', async () => {
    for (const model of ['mobilenet_v1_0.25_128_quant.tflite', 'tf2_mobilenet_v2_1.0_224_ptq.tflite']) {
      const a = await importTflite(tflitePath(model), { emit: 'qdq' });
      const b = await importTflite(tflitePath(model), { emit: 'qlinear' });
      const [sa, sb] = [await session(a.onnx), await session(b.onnx)];
      const res = a.card.resolution!;
      const oa = await runRaw(sa, 'cat.bmp', res);
      const ob = await runRaw(sb, 'cat.bmp', res);
      const worst = Math.max(...oa.map((v, i) => Math.abs(v - ob[i]!)));
      expect(worst, model).toBeLessThanOrEqual(2);
      await sa.release();
      await sb.release();
    }
  });
});

/**
 * Golden outputs: raw int8/uint8 outputs of the default (QDQ) import on a few photos, committed so the same
 * models can be checked on (emulated) arm64. Regenerate with EDGEFIT_UPDATE_GOLDEN=1 after an intended change.
 */
describe('golden outputs', () => {
  const file = join(projectRoot, 'tests/golden/tflite-outputs.json');
  const photos = ['cat.bmp', 'grace_hopper.bmp', 'parrot.jpg'];
  const models = [...IMAGENET_MODELS.map((m) => ['tflite', m]), ['vww', 'mobilenet_v1_0.25_96_vww_int8.tflite']];

  it('imported models reproduce the committed outputs', async () => {
    const current: Record<string, Record<string, { pixelsSha256: string; output: number[] }>> = {};
    for (const [dir, model] of models) {
      const r = await importTflite(join(sharedData, 'models', dir!, model!));
      const s = await session(r.onnx);
      const res = r.card.resolution!;
      current[model!] = {};
      for (const photo of photos) {
        current[model!]![photo] = {
          pixelsSha256: createHash('sha256').update(await pixels(photo, res)).digest('hex'),
          output: await runRaw(s, photo, res),
        };
      }
      await s.release();
    }
    if (process.env.EDGEFIT_UPDATE_GOLDEN === '1' || !existsSync(file)) {
      writeFileSync(file, JSON.stringify({ note: 'raw outputs of edgefit-imported TFLite models (default QDQ emission), x64 onnxruntime-node 1.30; tests/unit/tflite-models.test.ts', models: current }) + '\n');
    }
    const golden = JSON.parse(readFileSync(file, 'utf8')) as { models: typeof current };
    for (const [model, byPhoto] of Object.entries(golden.models)) {
      for (const [photo, g] of Object.entries(byPhoto)) {
        expect(current[model]![photo]!.pixelsSha256, `${model} ${photo} preprocessing`).toBe(g.pixelsSha256);
        expect(current[model]![photo]!.output, `${model} ${photo}`).toEqual(g.output);
      }
    }
  });
});
