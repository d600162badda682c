import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertTflite } from '../../src/importers/tflite/import-tflite.js';
import { signedExact } from '../../src/importers/tflite/weights.js';
import { decideWeightForm, deviceWeightForm, readDeviceForm } from '../../src/catalog/weight-form.js';
import { padNarrowChannels } from '../../src/catalog/pad-channels.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';

const TEST = join(sharedData, 'images/test');
const model = (f: string) => join(sharedData, 'models', f);
const photos = (res: number) => Promise.all(readdirSync(TEST).filter((n) => /\.(bmp|jpe?g|png)$/i.test(n)).sort().map((n) => loadImageRgb(join(TEST, n), res)));
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
    expect(w.candidates.map((c) => `${c.form}${c.scope ? `/${c.scope}` : ''}${c.padded ? '+pad16' : ''}`)).toEqual(['u8', 's8-exact', 's8-requant/all', 's8-requant/depthwise', 's8-exact+pad16', 's8-requant/all+pad16', 's8-requant/depthwise+pad16']);
    // a padded form computes the same integers as its base
    for (const c of w.candidates.filter((x) => x.padded)) expect(c.bitExact).toBe(w.candidates.find((x) => !x.padded && x.form === c.form && x.scope === c.scope)!.bitExact);
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
