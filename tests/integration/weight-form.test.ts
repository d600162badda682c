import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertTflite } from '../../src/importers/tflite/import-tflite.js';
import { signedExact } from '../../src/importers/tflite/weights.js';
import { decideWeightForm, deviceWeightForm, readDeviceForm, requantInputs } from '../../src/catalog/weight-form.js';
import { ADAPTIVE_MAX_WEIGHTS, requantRounding } from '../../src/catalog/requant-rounding.js';
import { probeCpu } from '../../src/device/cpu.js';
import { FsRoot } from '../../src/device/fsroot.js';
import { arch } from 'node:os';
import { padNarrowChannels } from '../../src/catalog/pad-channels.js';
import { stemSpaceToDepth } from '../../src/catalog/stem-s2d.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';

const TEST = join(sharedData, 'images/test');
const CALIB = join(sharedData, 'images/calib');
const model = (f: string) => join(sharedData, 'models', f);
const photosIn = (dir: string, res: number, fit: 'crop' | 'stretch' = 'crop') => Promise.all(readdirSync(dir).filter((n) => /\.(bmp|jpe?g|png)$/i.test(n)).sort().map((n) => loadImageRgb(join(dir, n), res, fit)));
const photos = (res: number) => photosIn(TEST, res);
/** the re-rounding range a device with this CPU uses (7 bits where its u8s8 kernels saturate, as weight-form-child does) */
const QMAX = (await probeCpu(new FsRoot('/'), arch())).int8.exact ? 127 : 63;
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('int8 weight forms of imported TFLite models', () => {
  it('stores uint8 weights with zero point 128 as int8 with zero point 0, the same values', () => {
    const w = { data: Uint8Array.from([0 + 1, 128, 255, 100]), dims: [1, 4, 1, 1] as [number, number, number, number], scale: [0.5], zeroPoint: [128] };
    const s = signedExact(w);
    expect(s.zeroPoint).toEqual([0]);
    expect(Array.from(s.data as Int8Array)).toEqual([-127, 0, 127, -28]);
  });

  // the s8-exact form is exact by construction; these check that onnxruntime computes it exactly too, here
  for (const f of ['vww/mobilenet_v1_0.25_96_vww_int8.tflite', 'tflite/mobilenet_v1_0.25_128_quant.tflite']) {
    it(`s8-exact of ${f} gives the u8 form's outputs bit for bit on the test photos`, async () => {
      const bytes = readFileSync(model(f));
      const u8 = convertTflite(bytes, f, { weightForm: 'u8' });
      const s8 = convertTflite(bytes, f, { weightForm: 's8-exact' });
      const res = u8.card.resolution!;
      const r = await decideWeightForm(u8.onnx, [{ form: 's8-exact', onnx: s8.onnx }], { frames: await photos(res), resolution: res, rounds: 2 });
      const c = r.candidates.find((x) => x.form === 's8-exact')!;
      expect(c.frames).toBeGreaterThan(10);
      expect(c.bitExact).toBe(true);
      expect(c.accepted).toBe(true);
    }, 60_000);
  }

  // widening the 8-channel stem to 16 zero-padded channels changes the kernels onnxruntime picks, not the integers
  for (const [f, form] of [['vww/mobilenet_v1_0.25_96_vww_int8.tflite', 's8-requant'], ['tflite/mobilenet_v1_0.25_128_quant.tflite', 's8-exact']] as const) {
    it(`${form} of ${f} with its narrow convs padded to 16 channels gives the same outputs bit for bit`, async () => {
      const bytes = readFileSync(model(f));
      const base = convertTflite(bytes, f, { weightForm: form, requantScope: 'all' });
      const p = padNarrowChannels(base.onnx)!;
      expect(p.convs).toEqual(['conv0', 'dwconv1']);
      const g = readOnnx(p.onnx).graph!;
      expect(Number(g.node!.find((n) => n.name === 'dwconv1')!.attribute!.find((a) => a.name === 'group')!.i)).toBe(16);
      const res = base.card.resolution!;
      const r = await decideWeightForm(base.onnx, [{ form, padded: true, onnx: p.onnx }], { frames: await photos(res), resolution: res, rounds: 2 });
      const c = r.candidates.find((x) => x.padded)!;
      expect(c.frames).toBeGreaterThan(10);
      expect(c.bitExact).toBe(true);
      // a model with no narrow conv is left alone
      expect(padNarrowChannels(p.onnx)).toBeUndefined();
    }, 60_000);
  }

  // the first conv reading 4 pixels as 12 channels: other kernels, the same integers (u8 weights with a zero
  // point, s8 per channel, after the stem was widened, and the SSD's explicit pads at 300 px)
  for (const [f, form, pad] of [['vww/mobilenet_v1_0.25_96_vww_int8.tflite', 's8-requant', true], ['tflite/mobilenet_v1_0.25_128_quant.tflite', 'u8', false],
    ['tflite/mobilenet_v1_0.25_128_quant.tflite', 's8-exact', true], ['detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite', 's8-exact', false]] as const) {
    it(`${form}${pad ? ' padded' : ''} of ${f} with its stem reading 12-channel pixel groups gives the same outputs bit for bit`, async () => {
      const bytes = readFileSync(model(f));
      const u8 = convertTflite(bytes, f, { weightForm: 'u8' });
      const base = form === 'u8' ? u8 : convertTflite(bytes, f, { weightForm: form, requantScope: 'all' });
      const from = pad ? padNarrowChannels(base.onnx)!.onnx : base.onnx;
      const res = base.card.resolution!;
      const s = stemSpaceToDepth(from, res)!;
      expect(s).toBeDefined();
      const stem = readOnnx(s).graph!.node!.find((n) => n.opType === 'Conv' || n.opType === 'QLinearConv')!;
      expect(stem.attribute!.find((a) => a.name === 'kernel_shape')!.ints!.map(Number)).toEqual([3, 2]);
      // a width that is not a multiple of 4 would need left padding: not rewritten; nor is a rewritten stem
      expect(stemSpaceToDepth(from, res + 2)).toBeUndefined();
      expect(stemSpaceToDepth(s, res)).toBeUndefined();
      const frames = (await photos(res)).slice(0, 8);
      const r = await decideWeightForm(from, [{ form: form === 'u8' ? 's8-exact' : form, stemS2d: true, onnx: s }], { frames, resolution: res, rounds: 2 });
      const c = r.candidates.find((x) => x.stemS2d)!;
      expect(c.frames).toBe(8);
      expect(c.bitExact).toBe(true);
    }, 60_000);
  }

  it('refuses a requantized form that flips a top-1, and keeps an exact form', async () => {
    const f = 'tflite/mobilenet_v1_0.25_128_quant.tflite';
    const bytes = readFileSync(model(f));
    const u8 = convertTflite(bytes, f, { weightForm: 'u8' });
    // 2-bit weights: fast enough to be chosen on speed alone, wrong enough to flip top-1s
    const bad = convertTflite(bytes, f, { weightForm: 's8-requant', requantQmax: 1 });
    const r = await decideWeightForm(u8.onnx, [{ form: 's8-requant', qmax: 1, onnx: bad.onnx }], { frames: await photos(128), resolution: 128, rounds: 2 });
    const c = r.candidates.find((x) => x.form === 's8-requant')!;
    expect(c.agree).toBeLessThan(c.frames);
    expect(c.accepted).toBe(false);
    expect(c.why).toMatch(/refused/);
    expect(r.form).toBe('u8');
  }, 60_000);

  // the device's probe frames (here the calibration photos) choose each re-rounded weight's floor or ceiling;
  // judged on the test photos, which neither the rounding nor the bias correction saw
  it('re-rounds adaptively: on photos it never saw, the requantized form keeps every top-1 and is closer to the exact one than nearest rounding', async () => {
    const f = 'tflite/mobilenet_v1_0.25_128_quant.tflite';
    const bytes = readFileSync(model(f));
    const qmax = QMAX;
    const u8 = convertTflite(bytes, f, { weightForm: 'u8' });
    const probe = await photosIn(CALIB, 128);
    const r = await requantRounding(bytes, f, probe, 128, qmax);
    // every conv of the 0.25 model has at most 256 weights per output channel (the auto_pad SAME ones included);
    // the last three (1x1 convs on 4x4 and 1x1 maps) see fewer than 2 patches per weight in 9 frames: nearest
    expect(ADAPTIVE_MAX_WEIGHTS).toBe(256);
    expect(r.size).toBe(25);
    const prep = await requantInputs(bytes, f, u8, probe, 128, qmax);
    const nearest = convertTflite(bytes, f, { weightForm: 's8-requant', requantQmax: qmax, requantScope: 'all', inputMeans: prep.inputMeans });
    const adaptive = convertTflite(bytes, f, { weightForm: 's8-requant', requantQmax: qmax, requantScope: 'all', ...prep });
    expect(prep.requantRounding.size).toBe(r.size);
    expect(Buffer.compare(Buffer.from(nearest.onnx), Buffer.from(adaptive.onnx))).not.toBe(0);
    const d = await decideWeightForm(u8.onnx, [{ form: 's8-requant', qmax, scope: 'all', onnx: nearest.onnx }, { form: 's8-requant', qmax, scope: 'all', onnx: adaptive.onnx }], { frames: await photos(128), resolution: 128, rounds: 2 });
    const [, n, a] = d.candidates;
    expect(a!.frames).toBe(19);
    expect(a!.agree).toBe(a!.frames);
    expect(a!.minCosine).toBeGreaterThanOrEqual(0.98);
    expect(a!.agree).toBeGreaterThanOrEqual(n!.agree);
    expect(a!.minCosine).toBeGreaterThan(n!.minCosine);
  }, 120_000);

  // a detector is judged on its decisions after its post-process: another anchor of the same object is no other decision
  it('the SSD detector: a requantized form makes every decision of the exact form on the test photos (labels >= 0.5 both ways, boxes IoU >= 0.8)', async () => {
    const f = 'detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite';
    const bytes = readFileSync(model(f));
    const qmax = QMAX;
    // the 'all' form as the device builds it from its probe frames (here the calibration photos), judged on the
    // test photos the rounding and the bias correction did not see
    const u8 = convertTflite(bytes, f, { weightForm: 'u8' });
    const probe = await photosIn(CALIB, 300, 'stretch');
    const s8 = convertTflite(bytes, f, { weightForm: 's8-requant', requantQmax: qmax, requantScope: 'all', ...(await requantInputs(bytes, f, u8, probe, 300, qmax)) });
    const spec = u8.card.detection!;
    const { anchorsFor } = await import('../../src/detect/anchors.js');
    const d = await decideWeightForm(u8.onnx, [{ form: 's8-requant', qmax, scope: 'all', onnx: s8.onnx }], { frames: await photosIn(TEST, 300, 'stretch'), resolution: 300, rounds: 2, detection: { spec, anchors: anchorsFor(spec, 300) } });
    const c = d.candidates[1]!;
    expect(c.bitExact).toBe(false);
    expect(c.frames).toBe(19);
    expect(c.agree).toBe(19);
    expect(c.minCosine).toBeGreaterThanOrEqual(0.98);
  }, 240_000);

  it('records the decision in the card and keeps it per file, CPU and runtime', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'edgefit-wf-'));
    dirs.push(stateDir);
    const p = model('vww/mobilenet_v1_0.25_96_vww_int8.tflite');
    const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(await readDeviceForm(stateDir, sha)).toBeUndefined();
    const first = await deviceWeightForm({ stateDir, sourcePath: p, sourceSha256: sha, framesDir: TEST, rounds: 3 }, true);
    expect(first.cached).toBe(false);
    const w = first.card.weights!;
    expect(['u8', 's8-exact', 's8-requant']).toContain(w.form);
    expect(w.candidates.map((c) => `${c.form}${c.scope ? `/${c.scope}` : ''}${c.padded ? '+pad16' : ''}${c.stemS2d ? '+s2d' : ''}`)).toEqual(['u8', 's8-exact', 's8-requant/all', 's8-requant/depthwise', 's8-exact+pad16', 's8-requant/all+pad16', 's8-requant/depthwise+pad16',
      's8-exact+s2d', 's8-requant/all+s2d', 's8-requant/depthwise+s2d', 's8-exact+pad16+s2d', 's8-requant/all+pad16+s2d', 's8-requant/depthwise+pad16+s2d']);
    // a padded form, or one whose stem reads pixel groups, computes the same integers as its base
    for (const c of w.candidates.filter((x) => x.padded || x.stemS2d)) expect(c.bitExact).toBe(w.candidates.find((x) => !x.padded && !x.stemS2d && x.form === c.form && x.scope === c.scope)!.bitExact);
    expect(w.reason).toContain(w.form);
    const card = JSON.parse(readFileSync(first.cardPath, 'utf8')) as { weights: { form: string } };
    expect(card.weights.form).toBe(w.form);
    const again = await deviceWeightForm({ stateDir, sourcePath: p, sourceSha256: sha, framesDir: TEST }, true);
    expect(again.cached).toBe(true);
    expect(again.onnxSha256).toBe(first.onnxSha256);
    // a damaged model is not a decision: it is made again
    const { writeFileSync } = await import('node:fs');
    writeFileSync(first.onnxPath, 'broken');
    expect(await readDeviceForm(stateDir, sha)).toBeUndefined();
  }, 120_000);
});
