import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { projectRoot } from '../../src/util/paths.js';
import { profileVariant } from '../../src/profile/profiler.js';
import { loadProbeSet, measureAgreement } from '../../src/profile/agreement.js';
import { measureCandidate } from '../../src/profile/measure.js';
import { ProfileCache, ortVersion, runtimeVersion } from '../../src/profile/cache.js';
import type { OrtRuntime } from '../../src/profile/runtime.js';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import type { Variant } from '../../src/catalog/types.js';
import { DaemonProcess, copyState, fastProfile, pulledState } from '../helpers/daemon.js';
import { loadsBy, markedOrtPackage, ortLoads } from '../helpers/marked-ort.js';
import { convNet, convVariant, writeVariant } from './profile-models.js';
import { SharedWorkers } from '../../src/engine/shared-workers.js';
import { measureSlowdown } from '../../src/profile/concurrency.js';

// engine.ortLibraryPath names the onnxruntime the engine runs on (a Jetson's CUDA/TensorRT build): the profiler's
// child, the agreement child, `edgefit doctor` and `edgefit profile` must load that library too, or the figures the
// selector decides on (and the providers doctor proves) are another runtime's. The library here is a real
// onnxruntime-node package whose JavaScript logs every process that loads it.

const quick = { warmupRuns: 1, warmupMs: 20, minRuns: 5, minMs: 50 };
let dir: string;
let pkg: string;
let log: string;
let small: Variant;
let custom: OrtRuntime;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefit-ortlib-'));
  log = join(dir, 'ort-loads.log');
  pkg = markedOrtPackage(join(dir, 'onnxruntime-node'), log);
  custom = { ortLibraryPath: pkg, trtFp16: false };
  small = convVariant(dir, 8, 32);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** uint8 NHWC pixels of any size -> a conv -> global average pool -> 8 scores: a model agreement can run at two sizes. */
function anySizeNet(): Uint8Array {
  const b = new OnnxBuilder('any_size');
  const x = b.input('pixels', DataType.UINT8, [1, 'h', 'w', 3]);
  let t = b.op('Cast', [x], { to: DataType.FLOAT });
  t = b.op('Transpose', [t], { perm: [0, 3, 1, 2] });
  const w = b.initializer('w', [8, 3, 3, 3], new Float32Array(8 * 27).map((_, i) => Math.sin(i) * 0.1));
  t = b.op('Conv', [t, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  t = b.op('GlobalAveragePool', [t]);
  b.output(b.op('Flatten', [t], {}, undefined, 'scores'), DataType.FLOAT, [1, 8]);
  return b.toBytes();
}

describe('the profiler measures on engine.ortLibraryPath', () => {
  it('profileVariant: the child loads the configured library, and the bundled one when none is configured', async () => {
    const bundled = await profileVariant(small, { ...quick, threads: 1 });
    expect(bundled.ok, bundled.error).toBe(true);
    expect(ortLoads(log)).toEqual([]);

    const m = await profileVariant(small, { ...quick, threads: 1, runtime: custom });
    expect(m.ok, m.error).toBe(true);
    expect(m.runs).toBeGreaterThanOrEqual(5);
    expect(loadsBy(log, 'profile/child.js')).toHaveLength(1);
  });

  it('a configured library that does not load fails the measurement with the loader\'s reason (never the bundled one instead)', async () => {
    const m = await profileVariant(small, { ...quick, threads: 1, runtime: { ortLibraryPath: join(dir, 'no-such-build'), trtFp16: false } });
    expect(m.ok).toBe(false);
    expect(m.error).toMatch(/^failed while starting onnxruntime: engine\.ortLibraryPath .*no-such-build: does not exist/);
  });

  it('measureAgreement: the agreement child loads the configured library', async () => {
    const frames = join(dir, 'frames');
    mkdirSync(frames);
    for (const [i, c] of [[0, { r: 200, g: 30, b: 30 }], [1, { r: 20, g: 160, b: 220 }]] as const) {
      await sharp({ create: { width: 48, height: 40, channels: 3, background: c } }).png().toFile(join(frames, `f${i}.png`));
    }
    const probe = (await loadProbeSet(frames))!;
    const rung = writeVariant(dir, 'any-size', anySizeNet(), { resolution: 24, nativeResolution: 32, pretrained: true });
    const before = loadsBy(log, 'profile/child.js').length;
    const a = await measureAgreement(rung, probe, { runtime: custom });
    expect(a.ok, a.error).toBe(true);
    expect(a.frames).toBe(2);
    expect(loadsBy(log, 'profile/child.js')).toHaveLength(before + 1);
  });

  it('the measurer: the runtime it is given is measured on and keyed by; the bundled figures stay apart', async () => {
    const cache = new ProfileCache(join(dir, 'measurer-cache.json'));
    let spawned = 0;
    const opts = { board: 'ortlib-board', cache, threads: 1, profile: quick, onProgress: (p: { cached: boolean; measurement?: unknown }) => { if (!p.cached && p.measurement) spawned++; } };
    const spec = { variant: small, provider: 'cpu' as const };

    await measureCandidate(spec, opts);
    expect(spawned).toBe(1);
    const before = loadsBy(log, 'profile/child.js').length;

    // what the daemon's selection and `edgefit profile` measure with (measurerFor: runtimeOf(config))
    const [m] = await measureCandidate(spec, { ...opts, runtime: custom });
    expect(m!.ok, m!.error).toBe(true);
    expect(spawned, 'the bundled library\'s figure was reused for the configured library').toBe(2);
    expect(loadsBy(log, 'profile/child.js')).toHaveLength(before + 1);
    const versions = cache.list('ortlib-board').map((e) => e.key.ortVersion).sort();
    expect(versions).toEqual([ortVersion(), runtimeVersion('cpu', '', custom)].sort());
    expect(runtimeVersion('cpu', '', custom)).toMatch(/^\d+\.\d+\.\d+_lib-[0-9a-f]{12}$/);

    // each runtime's figure is found again under its own key
    await measureCandidate(spec, { ...opts, runtime: custom });
    await measureCandidate(spec, opts);
    expect(spawned).toBe(2);
    expect(loadsBy(log, 'profile/child.js')).toHaveLength(before + 1);
  });
});

describe('edgefit doctor and edgefit profile with --set engine.ortLibraryPath', () => {
  const state = () => join(dir, 'cli-state');
  function edgefit(args: string[]) {
    const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'edgefit.js'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, EDGEFIT_STATE_DIR: state(), EDGEFIT_CONFIG: '' },
      timeout: 50_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  it('doctor proves the providers of the configured library, in the provider probe\'s child', () => {
    const before = loadsBy(log, 'device/providers-child.js').length;
    const r = edgefit(['doctor', '--json', '--set', `engine.ortLibraryPath=${pkg}`]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as { device: { providers: { usable: string[]; ortVersion: string | null } } };
    expect(report.device.providers.usable).toContain('cpu');
    expect(loadsBy(log, 'device/providers-child.js')).toHaveLength(before + 1);
    // doctor itself never loads it: a library that crashes must not take the command down
    expect(ortLoads(log).filter((l) => l.script.endsWith('bin/edgefit.js'))).toEqual([]);

    // a library that does not load is reported as such, not covered by the bundled one's providers
    const bad = edgefit(['doctor', '--json', '--set', `engine.ortLibraryPath=${join(dir, 'no-such-build')}`]);
    expect(bad.code, bad.err).toBe(0);
    const p = (JSON.parse(bad.out) as { device: { providers: { status: string; usable: string[]; error: string } } }).device.providers;
    expect(p.status).toBe('unavailable');
    expect(p.usable).not.toContain('cpu');
    expect(p.error).toMatch(/engine\.ortLibraryPath .*no-such-build: does not exist/);
  });

  it('profile probes and measures on the configured library; its figures are keyed by it', () => {
    const models = join(dir, 'cli-models');
    mkdirSync(models, { recursive: true });
    const net = convNet(8, 32);
    writeFileSync(join(models, 'net8.onnx'), net.bytes);
    writeFileSync(join(models, 'net8.card.json'), JSON.stringify({
      name: 'net8', family: 'mobilenet_v1', alpha: 0.25, resolution: 32, anyResolution: false, precision: 'fp32',
      input: { layout: 'NHWC', dtype: 'uint8' }, output: 'logits', classes: 8, background: false,
      source: { format: 'onnx', file: 'net8.onnx', sha256: 'test' }, macs: net.macs, params: net.params, referenceAccuracy: 0.4,
    }));
    const cache = join(dir, 'cli-cache.json');
    const probes = loadsBy(log, 'device/providers-child.js').length;
    const children = loadsBy(log, 'profile/child.js').length;
    const r = edgefit(['profile', '--models', models, '--json', '--threads', '1', '--providers', 'cpu', '--min-runs', '5', '--min-seconds', '0.05', '--cache', cache, '--set', `engine.ortLibraryPath=${pkg}`]);
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { decision: { chosen: { id: string } | null } }).decision.chosen?.id).toBe('net8@cpu');
    expect(loadsBy(log, 'device/providers-child.js')).toHaveLength(probes + 1);
    expect(loadsBy(log, 'profile/child.js')).toHaveLength(children + 1);
    const entries = Object.values((JSON.parse(readFileSync(cache, 'utf8')) as { entries: Record<string, { key: { ortVersion: string } }> }).entries);
    expect(entries.map((e) => e.key.ortVersion)).toEqual([runtimeVersion('cpu', '', custom)]);
  });
});

describe('several cameras with engine.ortLibraryPath', () => {
  const inThisProcess = () => ortLoads(log).filter((l) => l.worker && l.pid === process.pid).length;

  it('the shared workers load the configured library, as the selection measured on it', async () => {
    const before = inThisProcess();
    const w = await SharedWorkers.start([{ key: 's', modelPath: small.modelPath, threads: 1, resolution: small.resolution }], [{ id: 'a', fps: 5, session: 's', costMs: 1 }],
      { slots: 1, ortLibraryPath: pkg, onResult: () => undefined });
    await w.close();
    expect(inThisProcess()).toBe(before + 1);
  });

  it('the concurrency slowdown is measured on it too', async () => {
    const before = inThisProcess();
    const frame = new Uint8Array(small.resolution * small.resolution * 3).fill(128);
    await measureSlowdown(small.modelPath, { streams: 2, resolution: small.resolution, durationMs: 200, rounds: 1, frame, ortLibraryPath: pkg });
    expect(inThisProcess()).toBe(before + 2);
  });
});

describe('edgefit run with engine.ortLibraryPath', () => {
  let pulled: string;
  beforeAll(async () => { pulled = await pulledState(['mobilenet_v1-0.25-128-int8']); }, 120_000);

  it('the selection\'s measurements, the provider probe and the engine all run on the configured library', async () => {
    const stateDir = copyState(pulled);
    const children = loadsBy(log, 'profile/child.js').length;
    const d = new DaemonProcess(['--no-mqtt', '--json', '--state-dir', stateDir, '--device-id', 'cam-ortlib', ...fastProfile, '--camera', 'synthetic', '--set', 'engine.providers=cpu', '--set', `engine.ortLibraryPath=${pkg}`]);
    try {
      await d.waitFor(() => d.lines().length >= 2, '2 results', 90_000);
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect(loadsBy(log, 'device/providers-child.js').length).toBeGreaterThanOrEqual(1);
    expect(loadsBy(log, 'profile/child.js').length, 'no profiler child loaded engine.ortLibraryPath').toBeGreaterThan(children);
    expect(ortLoads(log).some((l) => l.worker && l.pid === d.proc.pid)).toBe(true);
    const versions = new Set(new ProfileCache(join(stateDir, 'profile-cache.json')).list().map((e) => e.key.ortVersion));
    expect([...versions]).toEqual([runtimeVersion('cpu', '', custom)]);
  }, 150_000);
});
