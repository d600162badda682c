import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { buildLadder } from '../../src/catalog/index.js';
import type { Variant } from '../../src/catalog/types.js';
import { loadProbeSet, measureAgreement, type ProbeSet } from '../../src/profile/agreement.js';
import { makeMeasurer, type MeasureProgress } from '../../src/profile/measure.js';
import { ProfileCache } from '../../src/profile/cache.js';
import { decodeRgb, loadImageRgb } from '../../src/image/load.js';
import { demotion } from '../../src/select/accuracy.js';
import { pulledState } from '../helpers/daemon.js';
import { convNet, writeVariant } from './profile-models.js';

let work: string;
let ladder: Variant[];
let calib: ProbeSet;
const rung = (id: string) => ladder.find((v) => v.id === id)!;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'edgefit-agree-'));
  const state = await pulledState(['mobilenet_v2-1.0-224-int8', 'mobilenet_v1-0.25-128-int8']);
  const { config } = loadConfig({ env: {}, overrides: { stateDir: state }, host: { hostname: 't', isRoot: false, home: work } });
  ladder = await buildLadder(config);
  calib = (await loadProbeSet(join(sharedData, 'images', 'calib')))!;
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The same comparison in this process, with onnxruntime directly: what the child must report. */
async function expected(v: Variant, probe: ProbeSet): Promise<{ frames: number; agreeing: number }> {
  const s = await ort.InferenceSession.create(v.modelPath);
  const top1 = async (px: Uint8Array, r: number) => {
    const d = (await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', px, [1, r, r, 3]) }))[s.outputNames[0]!]!.data as Uint8Array;
    return d.indexOf(Math.max(...d));
  };
  let frames = 0, agreeing = 0;
  for (const f of probe.files) {
    const img = await decodeRgb(f);
    if (Math.min(img.width, img.height) < v.nativeResolution!) continue;
    frames++;
    if ((await top1(await loadImageRgb(f, v.nativeResolution!), v.nativeResolution!)) === (await top1(await loadImageRgb(f, v.resolution), v.resolution))) agreeing++;
  }
  await s.release();
  return { frames, agreeing };
}

describe('agreement of a reduced-resolution rung with its native model, on probe frames', () => {
  it('counts, in a child process, the calibration photos whose top-1 is the same at both resolutions', async () => {
    expect(calib.files).toHaveLength(9);
    const v2 = rung('mobilenet_v2-1.0-224-int8@192');
    expect(v2.nativeResolution).toBe(224);
    const a = await measureAgreement(v2, calib);
    expect(a.ok, a.error).toBe(true);
    expect({ frames: a.frames, agreeing: a.agreeing }).toEqual(await expected(v2, calib));
    expect(a).toMatchObject({ nativeResolution: 224, probe: calib.dir, probeSet: calib.sha256 });
    // far below its training resolution the tiny model keeps its answer on few photos: demoted at the default 0.5
    const tiny = rung('mobilenet_v1-0.25-128-int8@96');
    const t = await measureAgreement(tiny, calib);
    expect({ frames: t.frames, agreeing: t.agreeing }).toEqual(await expected(tiny, calib));
    expect(a.agreeing / a.frames).toBeGreaterThanOrEqual(0.5);
    expect(demotion({ agreement: t }, 0.5)).toMatch(/^demoted: only \d\/9 probe frames keep the top-1 of the native 128 model/);
    expect(demotion({ agreement: a }, 0.5)).toBeUndefined();
  }, 60_000);

  it('fails plainly, never throwing: frames too small for the native input, a model that cannot change resolution, a native rung', async () => {
    const small = join(work, 'small');
    mkdirSync(small);
    writeFileSync(join(small, 'thumb.png'), await sharp({ create: { width: 100, height: 80, channels: 3, background: '#888' } }).png().toBuffer());
    const set = (await loadProbeSet(small))!;
    const a = await measureAgreement(rung('mobilenet_v2-1.0-224-int8@192'), set);
    expect(a).toMatchObject({ ok: false, frames: 0, error: 'none of the 1 probe frames is at least 224 pixels on its short side' });
    const fixed = writeVariant(work, 'fixed', convNet(4, 64).bytes, { resolution: 48, nativeResolution: 64, pretrained: true });
    const f = await measureAgreement(fixed, calib);
    expect(f.ok).toBe(false);
    expect(f.error).toMatch(/dimension|shape/i);
    expect((await measureAgreement(rung('mobilenet_v2-1.0-224-int8'), calib)).error).toMatch(/native resolution: there is nothing to compare/);
    expect(await loadProbeSet(join(work, 'nope'))).toBeUndefined();
  }, 60_000);

  it('the measurer records agreement in the profile cache next to latency, and measures again for other frames', async () => {
    const cache = new ProfileCache(join(work, 'cache.json'));
    const events: MeasureProgress[] = [];
    const opts = { board: 'test', cache, threads: 1, profile: { minRuns: 2, minMs: 0, warmupRuns: 0, warmupMs: 0 }, probe: calib, onProgress: (p: MeasureProgress) => events.push(p) };
    const spec = { variant: rung('mobilenet_v2-1.0-224-int8@192'), provider: 'cpu' as const };
    const first = await makeMeasurer(opts)(spec);
    expect(first.measurements[0]!.ok).toBe(true);
    expect(first.agreement?.ok).toBe(true);
    expect(cache.agreementList('test')).toHaveLength(1);
    events.length = 0;
    const again = await makeMeasurer({ ...opts, cache: new ProfileCache(join(work, 'cache.json')) })(spec);
    expect(again.agreement).toEqual(first.agreement);
    expect(events.filter((e) => e.agreement).map((e) => e.cached)).toEqual([true]);
    // other probe frames: another measurement
    const other = join(work, 'other');
    cpSync(calib.dir, other, { recursive: true });
    rmSync(join(other, 'squat.bmp'));
    const otherSet = (await loadProbeSet(other))!;
    expect(otherSet.sha256).not.toBe(calib.sha256);
    events.length = 0;
    await makeMeasurer({ ...opts, probe: otherSet })(spec);
    expect(events.filter((e) => e.agreement).map((e) => e.cached)).toEqual([false]);
    expect(cache.agreementList('test')).toHaveLength(2);
    // a native rung gets none
    expect((await makeMeasurer(opts)({ variant: rung('mobilenet_v2-1.0-224-int8'), provider: 'cpu' })).agreement).toBeUndefined();
  }, 90_000);
});
