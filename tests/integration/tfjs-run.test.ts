import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { DaemonProcess, copyState, fewRunsProfile, pulledState } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import type { ResultPayload } from '../../src/mqtt/payloads.js';
import { readdirSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { buildLadder } from '../../src/catalog/ladder.js';
import { loadProbeSet, measureAgreement } from '../../src/profile/agreement.js';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { cropResizeRgb, decodeRgb } from '../../src/image/load.js';

/**
 * Issue 21, "Done when": `edgefit run --set engine.providers=tfjs-wasm` runs on tfjs-wasm and its results match
 * onnxruntime's top-1 on the test photos; with engine.providers=tensorrt on a board without TensorRT the daemon
 * says so, and which provider it uses instead, in its log and in the retained model payload.
 */
const MODEL = 'mobilenet_v1-0.25-128-int8';
const photos = join(sharedData, 'images/test');

let state: string;
beforeAll(async () => { state = await pulledState([MODEL]); }, 180_000);

/** Results of a daemon on the photo folder (each photo a frame), until `enough` holds. */
async function run(provider: string, enough: (r: ResultPayload[]) => boolean): Promise<{ results: ResultPayload[]; stderr: string }> {
  const d = new DaemonProcess([
    '--no-mqtt', '--json', '--state-dir', copyState(state), '--device-id', `cam-${provider}`, ...fewRunsProfile,
    '--set', `engine.providers=${provider}`, '--set', 'budget.latencyMs=60000',
    '--camera', `folder:${photos}`, '--set', 'camera.fps=16', '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=100',
  ]);
  const results = () => d.lines() as unknown as ResultPayload[];
  try {
    await d.waitFor(() => enough(results()), `enough results on ${provider}`, 240_000);
  } finally {
    await d.stop();
  }
  return { results: results(), stderr: d.stderr };
}

/** onnxruntime's top-1 class indexes for each photo, as the folder camera feeds it (centre crop), on the same model file */
async function ortTop1(variantId: string): Promise<number[][]> {
  const { config } = loadConfig({ env: {}, overrides: { stateDir: state }, host: { hostname: 't', isRoot: false, home: state } });
  const v = (await buildLadder(config)).find((x) => x.id === variantId);
  if (!v) throw new Error(`variant ${variantId} is not in the ladder`);
  const e = await OrtEngine.load(v.modelPath, { providers: ['cpu'], threads: 1, resolution: v.resolution });
  const out: number[][] = [];
  try {
    for (const f of readdirSync(photos).filter((n) => /\.(jpe?g|png|bmp)$/i.test(n)).sort()) {
      const img = await decodeRgb(join(photos, f));
      const s = (await e.run(await cropResizeRgb(img.data, img.width, img.height, v.resolution))).scores;
      const max = Math.max(...s);
      // a tie (uint8 scores) admits each of its classes
      out.push([...s.keys()].filter((k) => s[k] === max));
    }
  } finally {
    await e.close();
  }
  return out;
}

describe('edgefit run on the TensorFlow.js engine', () => {
  it('engine.providers=tfjs-wasm runs on tfjs-wasm and gives onnxruntime\'s top-1 on the test photos', async () => {
    const n = readdirSync(photos).filter((f) => /\.(jpe?g|png|bmp)$/i.test(f)).length;
    const tfjs = await run('tfjs-wasm', (r) => r.length >= 3 * n);
    const variant = /running variant=(\S+) provider=tfjs-wasm/.exec(tfjs.stderr)?.[1];
    expect(variant, tfjs.stderr).toMatch(/^mobilenet_v1-0\.25-128-/);
    expect(tfjs.stderr).toMatch(/measured candidate=mobilenet_v1-0\.25-128-int8@tfjs-wasm/);
    expect(tfjs.stderr).not.toMatch(/configured but not available/);
    const ref = await ortTop1(variant!);
    const admitted = new Set(ref.flat());
    const seen = new Set(tfjs.results.filter((r) => r.variant === variant).map((r) => r.top[0]!.index));
    // every tfjs top-1 is onnxruntime's for some photo, and every photo's onnxruntime top-1 (or one of a tie) was given
    expect([...seen].filter((k) => !admitted.has(k))).toEqual([]);
    expect(ref.filter((ks) => !ks.some((k) => seen.has(k)))).toEqual([]);
  }, 600_000);

  it('engine.providers=tensorrt on a board without TensorRT: the log and the retained model payload say so and name the provider used', async () => {
    const broker = await Mosquitto.start();
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const models: { provider: string; reason: string }[] = [];
    sub.on('message', (t, p) => { if (t.endsWith('/model')) models.push(JSON.parse(p.toString())); });
    await sub.subscribeAsync('edgefit/cam-trt/#', { qos: 1 });
    const d = new DaemonProcess([
      '--broker', broker.url, '--device-id', 'cam-trt', '--state-dir', copyState(state), '--camera', 'synthetic', '--set', 'camera.fps=5',
      '--set', 'engine.providers=tensorrt', '--set', 'budget.latencyMs=60000', ...fewRunsProfile,
    ]);
    try {
      const m = await waitFor(() => models.at(-1), 'the model payload', 180_000);
      expect(m.provider).toBe('cpu');
      expect(m.reason).toContain('tensorrt configured but not available on this board: using cpu');
      expect(d.stderr).toMatch(/WARN.*tensorrt configured but not available on this board: using cpu/i);
      // and why: the probe's own evidence for tensorrt
      expect(d.stderr).toMatch(/refused="?tensorrt: /);
    } finally {
      await d.stop();
      await sub.endAsync();
      await broker.stop();
    }
  }, 300_000);

  it('where onnxruntime-node cannot load (32-bit ARM), the daemon starts on tfjs-wasm with the default providers and says why', async () => {
    const d = new DaemonProcess([
      '--no-mqtt', '--json', '--state-dir', copyState(state), '--device-id', 'cam-armhf', ...fewRunsProfile,
      '--set', 'budget.latencyMs=60000', '--camera', 'synthetic', '--set', 'camera.fps=5',
    ], { NODE_OPTIONS: `--import ${join(projectRoot, 'tests/helpers/no-onnxruntime.mjs')}` });
    try {
      await d.waitFor(() => d.lines().length >= 2, 'results', 180_000);
    } finally {
      await d.stop();
    }
    expect(d.stderr).toMatch(/WARN.*tensorrt, cuda, cpu configured but not available on this board: using tfjs-wasm/i);
    expect(d.stderr).toMatch(/cpu: onnxruntime-node did not load \(Cannot find module onnxruntime_binding/);
    expect(d.stderr).toMatch(/running variant=\S+ provider=tfjs-wasm/);
    expect((d.lines()[0] as unknown as ResultPayload).top.length).toBeGreaterThan(0);
  }, 300_000);

  it('the profiler measures a reduced rung\'s agreement on tfjs-wasm as on onnxruntime (its own candidate)', async () => {
    const { config } = loadConfig({ env: {}, overrides: { stateDir: state }, host: { hostname: 't', isRoot: false, home: state } });
    const rung = (await buildLadder(config)).find((v) => v.resolution !== v.nativeResolution);
    expect(rung).toBeDefined();
    const probe = (await loadProbeSet(join(sharedData, 'images/calib')))!;
    const ort = await measureAgreement(rung!, probe, { provider: 'cpu', threads: 1 });
    const tfjs = await measureAgreement(rung!, probe, { provider: 'tfjs-wasm', threads: 1 });
    expect(tfjs).toMatchObject({ ok: true, frames: ort.frames });
    expect(tfjs.frames).toBeGreaterThan(0);
    expect(tfjs.agreeing).toBe(ort.agreeing);
  }, 120_000);
});
