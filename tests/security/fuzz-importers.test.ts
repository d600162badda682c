import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { configTarget, fuzz, FuzzRunner, kerasTarget, onnxSeed, onnxTarget, type FuzzSummary } from '../../scripts/fuzz/harness.js';
import { CONFIG_SEEDS_JSON, CONFIG_SEEDS_YAML } from '../../scripts/fuzz/config-seeds.js';

// Fixed seeds: the same mutants on every run. Every mutant runs in a child process with a time bound, so a
// crash (h5wasm is WASM and may abort) or a hang is counted, never fatal to the test process.
const SEED = 20251128;
const TIMEOUT_MS = 20_000;
const runner = new FuzzRunner();
afterAll(() => runner.close());

function report(s: FuzzSummary): void {
  console.log(`${s.target}: ${s.iterations} mutants, ${s.imported} imported, ${s.refused} refused (${Object.entries(s.codes).map(([c, n]) => `${c} ${n}`).join(', ')}), ${s.bugs} bugs, ${s.crashes} crashes, ${s.hangs} hangs`);
  for (const f of s.findings) console.log(`  #${f.iteration} ${f.outcome}: ${f.what}: ${f.message}`);
}

function clean(s: FuzzSummary, n: number): void {
  report(s);
  expect(s.iterations).toBe(n);
  expect(s.findings.map((f) => `#${f.iteration} ${f.outcome}: ${f.what}: ${f.message}`)).toEqual([]);
  expect(s.imported + s.refused).toBe(n);
}

describe('fuzzing the importers and the config loader (seeded, bounded)', () => {
  it('the harness reports a hang as such and carries on with a fresh child (it can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-fuzz-self-'));
    // a config file the child cannot even read is refused, not a crash
    const r1 = await runner.run('config', join(dir, 'missing.yaml'), TIMEOUT_MS);
    expect(r1.outcome).toBe('refused');
    // a very short bound on a real import is a hang; the next job gets a fresh child
    const r2 = await runner.run('keras', join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'), 1);
    expect(r2.outcome).toBe('hang');
    const r3 = await runner.run('keras', join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5'), TIMEOUT_MS);
    expect(r3.outcome).toBe('imported');
  });

  it('Keras .h5 (person detector): 24 mutants import or are refused with EdgefitError', async () => {
    clean(await fuzz(kerasTarget(join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5')), { iterations: 24, seed: SEED, timeoutMs: TIMEOUT_MS, runner }), 24);
  });

  it('Keras .h5 (ImageNet): 24 mutants import or are refused with EdgefitError', async () => {
    clean(await fuzz(kerasTarget(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5')), { iterations: 24, seed: SEED + 1, timeoutMs: TIMEOUT_MS, runner }), 24);
  });

  it('ONNX pass-through: 40 mutants of a zoo model import or are refused', async () => {
    const s = await onnxSeed();
    clean(await fuzz(onnxTarget('onnx:zoo', s.bytes, s.weightRanges), { iterations: 40, seed: SEED, timeoutMs: TIMEOUT_MS, runner }), 40);
  });

  it('config loader: the seeds are valid, and 150 YAML + 60 JSON mutants load or are refused with E_CONFIG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-fuzz-seeds-'));
    for (const [i, text] of [...CONFIG_SEEDS_YAML.map((t) => [t, 'yaml'] as const), ...CONFIG_SEEDS_JSON.map((t) => [t, 'json'] as const)].entries()) {
      const f = join(dir, `seed${i}.${text[1]}`);
      writeFileSync(f, text[0]);
      expect(() => loadConfig({ file: f, env: {}, host: { hostname: 'h', isRoot: false, home: tmpdir() } })).not.toThrow();
    }
    const yaml = await fuzz(configTarget('yaml', CONFIG_SEEDS_YAML), { iterations: 150, seed: SEED, timeoutMs: TIMEOUT_MS, runner });
    clean(yaml, 150);
    const json = await fuzz(configTarget('json', CONFIG_SEEDS_JSON), { iterations: 60, seed: SEED, timeoutMs: TIMEOUT_MS, runner });
    clean(json, 60);
    expect(Object.keys({ ...yaml.codes, ...json.codes })).toEqual(['E_CONFIG']);
    // the mutations do reach past the parser: some documents still load
    expect(yaml.imported + json.imported).toBeGreaterThan(0);
  });
});
