/**
 * The long fuzz run of the model importers and the config loader. Every mutant is imported in a child process
 * with a time bound, so a crash or a hang is counted (and its input kept) instead of ending the run.
 *
 *   npm run build && node dist/scripts/fuzz.js [--iterations N] [--seed S] [--timeout-ms MS] [--only keras,tflite,onnx,config] [--keep DIR] [--json FILE]
 *
 * Exit status 1 when any iteration was a bug (a non-EdgefitError escaped), a crash or a hang.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../src/util/paths.js';
import { configTarget, fuzz, FuzzRunner, kerasTarget, onnxSeed, onnxTarget, tfliteTarget, type FuzzSummary, type FuzzTarget } from './fuzz/harness.js';
import { CONFIG_SEEDS_JSON, CONFIG_SEEDS_YAML } from './fuzz/config-seeds.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function targets(only: Set<string>): Promise<FuzzTarget[]> {
  const out: FuzzTarget[] = [];
  if (only.has('keras')) {
    out.push(kerasTarget(join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5')));
    out.push(kerasTarget(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5')));
  }
  if (only.has('tflite')) {
    out.push(tfliteTarget(join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww_int8.tflite')));
    out.push(tfliteTarget(join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite')));
  }
  if (only.has('onnx')) {
    const s = await onnxSeed();
    out.push(onnxTarget('onnx:zoo-mobilenet_v1-0.25-64', s.bytes, s.weightRanges));
  }
  if (only.has('config')) {
    out.push(configTarget('yaml', CONFIG_SEEDS_YAML));
    out.push(configTarget('json', CONFIG_SEEDS_JSON));
  }
  return out;
}

async function main(): Promise<void> {
  const iterations = Number(arg('iterations', '500'));
  const seed = Number(arg('seed', '20251129'));
  const timeoutMs = Number(arg('timeout-ms', '20000'));
  const only = new Set(arg('only', 'keras,tflite,onnx,config').split(','));
  const keep = arg('keep', join('artifacts', 'fuzz'));
  mkdirSync(keep, { recursive: true });
  const runner = new FuzzRunner();
  const results: FuzzSummary[] = [];
  try {
    for (const t of await targets(only)) {
      const s = await fuzz(t, {
        iterations, seed, timeoutMs, runner, keepDir: keep,
        onIteration: (i) => { if (process.stderr.isTTY && i % 10 === 0) process.stderr.write(`\r${t.name}: ${i}/${iterations}   `); },
      });
      results.push(s);
      process.stderr.write(`\r${s.target}: ${s.iterations} mutants, ${s.imported} imported, ${s.refused} refused, ${s.bugs} bugs, ${s.crashes} crashes, ${s.hangs} hangs (${(s.ms / 1000).toFixed(0)} s)\n`);
      for (const f of s.findings) process.stderr.write(`  #${f.iteration} ${f.outcome}: ${f.what}: ${f.message} (input: ${f.file})\n`);
    }
  } finally {
    runner.close();
  }
  const out = arg('json', '');
  if (out) writeFileSync(out, JSON.stringify({ seed, iterations, timeoutMs, node: process.version, results }, null, 2) + '\n');
  console.log('| target | mutants | imported | refused | bugs | crashes | hangs | seconds |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const s of results) console.log(`| ${s.target} | ${s.iterations} | ${s.imported} | ${s.refused} | ${s.bugs} | ${s.crashes} | ${s.hangs} | ${(s.ms / 1000).toFixed(0)} |`);
  if (results.some((s) => s.bugs + s.crashes + s.hangs > 0)) process.exitCode = 1;
}

await main();
