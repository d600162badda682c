/**
 * One board of the armv7 job: the device probe as the daemon runs it (onnxruntime's providers, then TensorFlow.js's)
 * and the prepared models on a provider through the engine registry, top-1 of each frame. Runs on the host (x64,
 * for the reference) and under qemu-arm as a 32-bit Raspberry Pi OS board; imports neither sharp nor onnxruntime
 * unless asked for onnxruntime.
 * usage: node dist/scripts/armv7/run.js --work DIR --provider tfjs-wasm|cpu --out FILE
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probeDevice } from '../../src/device/probe.js';
import { loadEngine } from '../../src/engine/registry.js';
import type { ProviderName } from '../../src/types/provider.js';
import type { ArmManifest } from './prepare.js';

export interface ArmReport {
  arch: string;
  board: string;
  providers: { status: string; usable: string[]; checks: { name: string; works: boolean; evidence: string; error: string | null }[]; error: string | null };
  provider: string;
  /** model id -> photo -> classes of the top score (several on a tie) */
  top1: Record<string, Record<string, number[]>>;
  ms: Record<string, number>;
}

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const work = arg('--work');
const out = arg('--out');
const provider = (arg('--provider') ?? 'tfjs-wasm') as ProviderName;
if (!work || !out) { console.error('usage: run.js --work DIR --provider P --out FILE'); process.exit(2); }

const manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as ArmManifest;
const device = await probeDevice({ quietOrt: true });
const report: ArmReport = {
  arch: process.arch, board: device.board.kind,
  providers: { status: device.providers.status, usable: device.providers.usable, checks: device.providers.checks.map((c) => ({ name: c.name, works: c.works, evidence: c.evidence, error: c.error })), error: device.providers.error },
  provider, top1: {}, ms: {},
};
console.error(`armv7 run: ${process.arch}, providers ${device.providers.usable.join(',') || 'none'}${device.providers.error ? ` (onnxruntime: ${device.providers.error})` : ''}`);
for (const m of manifest.models) {
  const engine = await loadEngine(m.onnx, { providers: [provider], threads: 1, resolution: m.resolution });
  if (engine.provider !== provider) throw new Error(`${m.id}: ${provider} was asked for, ${engine.provider} runs`);
  const top: Record<string, number[]> = {};
  let ms = 0;
  const frames = manifest.frames.filter((f) => f.resolution === m.resolution);
  for (const f of frames) {
    const r = await engine.run(new Uint8Array(await readFile(f.path)));
    ms += r.inferMs;
    let max = -Infinity;
    for (const s of r.scores) if (s > max) max = s;
    top[f.photo] = [...r.scores.keys()].filter((k) => r.scores[k] === max);
  }
  await engine.close();
  report.top1[m.id] = top;
  report.ms[m.id] = Math.round((ms / frames.length) * 10) / 10;
  console.error(`armv7 run: ${m.id} on ${engine.provider}: ${report.ms[m.id]} ms per frame`);
}
await writeFile(out, JSON.stringify(report, null, 1));
