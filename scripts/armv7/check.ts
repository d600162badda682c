/**
 * Verdict of the armv7 job: the emulated 32-bit board's probe reports arm and the tfjs-wasm provider (onnxruntime
 * skipped with its reason), and its top-1 on every frame is the host's: TensorFlow.js on x64 exactly, and
 * onnxruntime on x64 (any class of a tie in its uint8 scores).
 * usage: node dist/scripts/armv7/check.js --arm ARM.json --x64-tfjs X.json --x64-ort O.json
 */
import { readFileSync } from 'node:fs';
import type { ArmReport } from './run.js';

const arg = (name: string): string => {
  const i = process.argv.indexOf(name);
  if (i < 0 || !process.argv[i + 1]) { console.error('usage: check.js --arm FILE --x64-tfjs FILE --x64-ort FILE'); process.exit(2); }
  return process.argv[i + 1]!;
};
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as ArmReport;
const arm = read(arg('--arm'));
const tfjs = read(arg('--x64-tfjs'));
const ort = read(arg('--x64-ort'));

const failures: string[] = [];
if (arm.arch !== 'arm') failures.push(`the emulated board reports arch ${arm.arch}, not arm`);
if (!arm.providers.usable.includes('tfjs-wasm')) failures.push(`the probe did not prove tfjs-wasm (usable: ${arm.providers.usable.join(',') || 'none'}; ${JSON.stringify(arm.providers.checks)})`);
if (arm.providers.usable.includes('cpu')) failures.push('the probe claims onnxruntime cpu on 32-bit ARM, where onnxruntime-node has no binary');
if (!/linux\/arm/.test(arm.providers.error ?? '')) failures.push(`onnxruntime is not reported unavailable for linux/arm (error: ${arm.providers.error})`);
if (arm.provider !== 'tfjs-wasm' || tfjs.provider !== 'tfjs-wasm' || ort.provider !== 'cpu') failures.push('the reports are not armv7 tfjs-wasm, x64 tfjs-wasm and x64 cpu');

let frames = 0;
for (const [model, photos] of Object.entries(tfjs.top1)) {
  for (const [photo, want] of Object.entries(photos)) {
    const got = arm.top1[model]?.[photo];
    const ref = ort.top1[model]?.[photo] ?? [];
    frames++;
    if (!got) { failures.push(`${model} ${photo}: no armv7 result`); continue; }
    if (got.join(',') !== want.join(',')) failures.push(`${model} ${photo}: armv7 top-1 ${got.join('|')}, x64 tfjs-wasm ${want.join('|')}`);
    if (!got.some((k) => ref.includes(k))) failures.push(`${model} ${photo}: armv7 top-1 ${got.join('|')}, x64 onnxruntime ${ref.join('|')}`);
  }
}
if (frames === 0) failures.push('no frames were compared');
for (const [m, ms] of Object.entries(arm.ms)) console.log(`armv7 check: ${m}: ${ms} ms per frame emulated (x64 tfjs-wasm ${tfjs.ms[m]} ms, x64 onnxruntime ${ort.ms[m]} ms)`);
if (failures.length > 0) {
  console.error(`armv7 check: FAILED\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`armv7 check: ok: arm, providers ${arm.providers.usable.join(',')}; ${frames} frames, same top-1 as x64 (tfjs-wasm and onnxruntime)`);
