/**
 * Runs the prepared models with edgefit's own OrtEngine (1 intra-op thread, CPU provider) and probes the device,
 * writing a RunReport. The same compiled file runs on the x64 host and under qemu-aarch64 (scripts/arm64/qnode.sh):
 * it touches no native module but onnxruntime-node, whose package carries both platforms' binaries.
 * usage: node dist/scripts/arm64/run.js --work DIR --label NAME --out FILE.json
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { OrtEngine, ortVersion } from '../../src/engine/onnxruntime.js';
import { probeDevice, boardFingerprint } from '../../src/device/probe.js';
import { loadConfig } from '../../src/config/index.js';
import { usableProviders } from '../../src/select/choose.js';
import { MANIFEST, type DeviceReport, type Manifest, type ModelEntry, type ModelRun, type RunReport, type TapRecord } from './manifest.js';

const startupMs = process.uptime() * 1000;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function runModel(work: string, label: string, m: ModelEntry): Promise<ModelRun> {
  const t0 = performance.now();
  // int8: scale 1 / zero point 0 keeps the raw integer outputs (the engine would otherwise dequantize them)
  const raw = m.precision === 'int8' ? { outputScale: 1, outputZeroPoint: 0 } : {};
  const engine = await OrtEngine.load(join(work, m.file), { providers: ['cpu'], threads: 1, resolution: m.resolution, ...raw });
  const loadMs = performance.now() - t0;
  const outputs: Record<string, number[]> = {};
  const inferMs: Record<string, number> = {};
  try {
    for (const f of m.frames) {
      const px = new Uint8Array(await readFile(join(work, f.file)));
      if (sha256(px) !== f.pixelsSha256) throw new Error(`${f.file} does not match the manifest's sha256; rerun prepare`);
      const r = await engine.run(px);
      outputs[f.name] = Array.from(r.scores);
      inferMs[f.name] = r.inferMs;
    }
  } finally {
    await engine.close();
  }
  const run: ModelRun = { provider: engine.provider, loadMs, outputs, inferMs };
  if (m.tapsFile && m.tapsFrame) Object.assign(run, await runTaps(work, label, m));
  return run;
}

/** Runs the tap model once and stores every tap tensor as raw bytes beside the report. */
async function runTaps(work: string, label: string, m: ModelEntry): Promise<Pick<ModelRun, 'taps' | 'tapsScores' | 'tapsMs'>> {
  const frame = m.frames.find((f) => f.name === m.tapsFrame)!;
  const px = new Uint8Array(await readFile(join(work, frame.file)));
  const session = await ort.InferenceSession.create(join(work, m.tapsFile!), {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const t0 = performance.now();
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('uint8', px, [1, m.resolution, m.resolution, 3]) });
  const tapsMs = performance.now() - t0;
  const dir = join(work, 'taps', label, m.id);
  await mkdir(dir, { recursive: true });
  const taps: TapRecord[] = [];
  const [finalName, ...tapNames] = session.outputNames;
  for (const [i, name] of tapNames.entries()) {
    const t = out[name]!;
    const d = t.data as Uint8Array | Int8Array;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    const file = join('taps', label, m.id, `${String(i).padStart(3, '0')}.bin`);
    await writeFile(join(work, file), bytes);
    taps.push({ name, dims: t.dims.map(Number), type: t.type, file, sha256: sha256(bytes) });
  }
  const fin = out[finalName!]!.data as Uint8Array | Float32Array;
  const tapsScores = Array.from(fin, Number);
  await session.release();
  return { taps, tapsScores, tapsMs };
}

async function deviceReport(): Promise<DeviceReport> {
  const d = await probeDevice({ quietOrt: true });
  const { config } = loadConfig({ host: { hostname: 'arm64-parity', isRoot: false, home: '/tmp' } });
  return {
    arch: d.board.arch,
    boardKind: d.board.kind,
    cpuModel: d.cpu.model,
    cpuPart: d.cpu.part,
    cores: d.cpu.cores,
    features: Object.fromEntries(d.cpu.features.map((f) => [f.name, f.present])),
    int8Kernel: d.cpu.int8.kernel,
    int8Exact: d.cpu.int8.exact,
    int8Summary: d.cpu.int8.summary,
    providersUsable: d.providers.usable,
    providersStatus: d.providers.status,
    daemonProviders: usableProviders(config, d),
    fingerprint: boardFingerprint(d),
  };
}

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) {
    process.stderr.write('usage: run.js --work DIR --label NAME --out FILE.json\n');
    process.exit(2);
  }
  return v;
}

const work = arg('--work');
const label = arg('--label');
const outFile = arg('--out');
const t0 = performance.now();
const manifest = JSON.parse(await readFile(join(work, MANIFEST), 'utf8')) as Manifest;
const tp = performance.now();
const device = await deviceReport();
const probeMs = performance.now() - tp;
const models: Record<string, ModelRun> = {};
for (const m of manifest.models) {
  models[m.id] = await runModel(work, label, m);
  process.stderr.write(`[${label}] ${m.id}: load ${models[m.id]!.loadMs.toFixed(0)} ms, ${m.frames.length} frame(s)\n`);
}
const report: RunReport = {
  label, nodeArch: process.arch, nodeVersion: process.version, ortVersion: ortVersion(), device, models,
  timings: { totalMs: performance.now() - t0 + startupMs, probeMs, startupMs },
};
await writeFile(outFile, JSON.stringify(report));
