import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { importModel } from '../../src/importers/index.js';
import type { Variant } from '../../src/catalog/types.js';
import { loadProbeSet, type ProbeSet } from '../../src/profile/agreement.js';
import { answersOn, compareAnswers, type Answers } from '../../src/daemon/rollout-fidelity.js';
import { DEFAULT_THRESHOLDS, judgeHealth, stageDecision, stageResult, type MemberReport } from '../../src/mqtt/fleet-rollout.js';

/**
 * Issue 19, a device's fidelity in a rollout: the answers of a model on the probe photos, as the daemon's engine
 * and pipeline read them (a real onnxruntime session in the measurement's child process), compared by label.
 */
describe('rollout fidelity: answers on probe frames, compared by label', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-fidelity-'));
  let config: Config;
  let calib: ProbeSet;
  let photos: ProbeSet;

  async function variant(id: string, file: string, labelsPath: string): Promise<Variant> {
    const { onnx, card } = await importModel(join(sharedData, file), { labelsPath });
    const modelPath = join(dir, `${id}.onnx`);
    writeFileSync(modelPath, onnx);
    return {
      id, family: 'mobilenet_v1', alpha: 1, resolution: card.resolution!, precision: 'int8', macs: 0, params: 0, modelPath, sha256: '0'.repeat(64),
      labelsPath, pretrained: true, input: { layout: 'NHWC', dtype: 'uint8' }, source: `test:${id}`,
      ...(card.task === 'detection' ? { task: 'detection' as const, detection: card.detection!, nativeResolution: card.resolution! } : {}),
    };
  }
  const on = (v: Variant, probe: ProbeSet): Promise<Answers> => answersOn(config, { variant: v, provider: 'cpu', threads: 1 }, probe);

  beforeAll(async () => {
    ({ config } = loadConfig({ env: {}, overrides: { stateDir: join(dir, 'state') }, host: { hostname: 'test', isRoot: false, home: tmpdir() } }));
    calib = (await loadProbeSet(join(sharedData, 'images/calib')))!;
    photos = (await loadProbeSet(join(sharedData, 'images/test')))!;
  });

  it('counts the frames both models answered, and is null below 3 of them', () => {
    expect(compareAnswers(['a', 'b', 'c', 'd'], ['a', 'b', 'x', 'd'])).toEqual({ fidelity: 0.75, frames: 4, agreeing: 3 });
    // an unreadable frame counts for neither; 2 of 3 rounds to 3 decimals
    expect(compareAnswers(['a', null, 'b', 'c'], ['a', 'z', 'b', 'x'])).toEqual({ fidelity: 0.667, frames: 3, agreeing: 2 });
    expect(compareAnswers(['a', 'b', null], ['a', 'b', 'c'])).toMatchObject({ fidelity: null, frames: 2, why: expect.stringMatching(/fewer than 3/) });
    expect(compareAnswers([], [])).toMatchObject({ fidelity: null, frames: 0 });
  });

  it('a classifier: the same model agrees on every photo; the same model with its labels reversed on none, and the gate halts on it', async () => {
    const labels = join(sharedData, 'labels/imagenet_labels_1001_coral.txt');
    const [bg, ...names] = readFileSync(labels, 'utf8').trimEnd().split('\n');
    const reversedPath = join(dir, 'reversed.txt');
    writeFileSync(reversedPath, `${[bg, ...names.reverse()].join('\n')}\n`);
    const good = await variant('v1-025-128', 'models/tflite/mobilenet_v1_0.25_128_quant.tflite', labels);
    const before = await on(good, calib);
    expect(before).toHaveLength(9);
    // real labels, one per photo (the 1001-class file's names)
    for (const a of before) expect(names).toContain(a);
    expect(compareAnswers(before, await on(good, calib))).toEqual({ fidelity: 1, frames: 9, agreeing: 9 });

    const reversed = await on({ ...good, id: 'v1-025-128-reversed', labelsPath: reversedPath }, calib);
    const f = compareAnswers(before, reversed);
    expect(f).toEqual({ fidelity: 0, frames: 9, agreeing: 0 });

    // the controller's gate on the device's report: unhealthy for fidelity, and the stage halts
    const health = { p90Ms: 10, previousP90Ms: 10, fps: 5, previousFps: 5, crashes: 0, restarts: 0, fidelity: f.fidelity, fidelityFrames: f.frames };
    expect(judgeHealth(health, DEFAULT_THRESHOLDS)).toEqual({ healthy: false, reason: 'fidelity 0% < 80% on its 9 probe frames' });
    const report: MemberReport = { format: 'edgefit-rollout/1', deviceId: 'd1', group: 'g', board: 'b', catalogVersion: 1, ts: new Date().toISOString(), rollout: { rolloutId: 'r', phase: 'proven', catalogVersion: 2, health } };
    const r = stageResult('r', 1, ['d1'], new Map([['d1', report]]), DEFAULT_THRESHOLDS, false);
    expect(stageDecision(r, DEFAULT_THRESHOLDS)).toBe('halt');
    // a different model of the same family: a measured share, not a constant
    const wider = await on(await variant('v1-05-160', 'models/tflite/mobilenet_v1_0.5_160_quant.tflite', labels), calib);
    const g = compareAnswers(before, wider);
    expect(g.frames).toBe(9);
    expect(g.fidelity! * 9).toBeCloseTo(g.agreeing, 1);
  }, 240_000);

  it('a detector: its answer is the set of labels at or above mqtt.results.minScore, the frame stretched as the camera feeds it', async () => {
    const ssd = await variant('ssd', 'models/detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite', join(sharedData, 'labels/coco_labels.txt'));
    const a = await on(ssd, photos);
    expect(a).toHaveLength(photos.files.length);
    const sets = a.map((x) => JSON.parse(x!) as string[]);
    // the photos hold people, animals and things the detector finds: some frame has a label
    expect(sets.some((s) => s.length > 0)).toBe(true);
    for (const s of sets) expect([...s].sort()).toEqual(s);
    expect(compareAnswers(a, await on(ssd, photos))).toMatchObject({ fidelity: 1, frames: photos.files.length });
    // a stricter minScore keeps fewer labels: the rule is the published result's
    const strict = await answersOn({ ...config, mqtt: { ...config.mqtt, results: { ...config.mqtt.results, minScore: 0.99 } } }, { variant: ssd, provider: 'cpu', threads: 1 }, photos);
    const total = (xs: Answers) => xs.reduce((n, x) => n + (JSON.parse(x!) as string[]).length, 0);
    expect(total(strict)).toBeLessThan(total(a));
  }, 240_000);
});
