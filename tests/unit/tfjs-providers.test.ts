import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { importModel } from '../../src/importers/index.js';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { EngineHost } from '../../src/engine/host.js';
import { loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { providerPlan } from '../../src/select/providers.js';
import { checkTfjsProvider, withTfjsProviders } from '../../src/device/providers-tfjs.js';
import { diagnose } from '../../src/device/doctor.js';
import { probeDevice } from '../../src/device/probe.js';
import { createFakeOrt, NPM_ARM64_BACKENDS } from '../../src/device/fake-ort.js';
import type { DeviceInfo, ProvidersInfo } from '../../src/device/types.js';
import type { ProviderName } from '../../src/types/provider.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-tfjs-prov-'));
const photos = Object.keys(JSON.parse(readFileSync(join(sharedData, 'images/test/labels.json'), 'utf8')) as Record<string, unknown>);

const argmaxes = (s: Float32Array): number[] => {
  const max = Math.max(...s);
  return [...s.keys()].filter((k) => s[k] === max);
};

describe('imported MobileNets on tfjs-wasm (in the engine worker) give onnxruntime\'s top-1 on the test photos', () => {
  // the quantization-aware trained ones: the QDQ graph run in float with each activation rounded to its grid
  for (const [file, res] of [['mobilenet_v1_0.25_128_quant', 128], ['mobilenet_v1_0.5_160_quant', 160], ['mobilenet_v2_1.0_224_quant', 224]] as const) {
    it(file, async () => {
      const { onnx } = await importModel(join(sharedData, 'models/tflite', `${file}.tflite`));
      const path = join(dir, `${file}.onnx`);
      writeFileSync(path, onnx);
      const ort = await OrtEngine.load(path, { providers: ['cpu'], threads: 1, resolution: res });
      const tfjs = await EngineHost.start(path, { providers: ['tfjs-wasm'], threads: 1, resolution: res, timeoutMs: 60_000 });
      try {
        expect(tfjs.provider).toBe('tfjs-wasm');
        expect(tfjs.name).toBe('worker:tfjs');
        const differ: string[] = [];
        for (const p of photos) {
          const frame = await loadImageRgb(join(sharedData, 'images/test', p), res);
          const want = argmaxes((await ort.run(frame)).scores);
          const got = argmaxes((await tfjs.run(frame)).scores)[0]!;
          // onnxruntime's uint8 scores can tie: any class of the tie is its top-1
          if (!want.includes(got)) differ.push(`${p}: onnxruntime ${want.join('|')}, tfjs ${got}`);
        }
        expect(differ).toEqual([]);
      } finally {
        await ort.close();
        await tfjs.close();
      }
    }, 180_000);
  }
});

function device(providers: Partial<ProvidersInfo>): DeviceInfo {
  return { providers: { status: 'probed', ortVersion: '1.30.0', listed: [], checks: [], usable: ['cpu'], error: null, ...providers } } as unknown as DeviceInfo;
}
const config = (providers: ProviderName[]) => loadConfig({ env: {}, overrides: { 'engine.providers': providers }, host: { hostname: 't', isRoot: false, home: tmpdir() } }).config;

describe('configured providers that cannot be used are said, never dropped in silence', () => {
  const trt = { name: 'tensorrt', listed: false, bundled: null, works: false, placedOn: [], evidence: 'not listed by listSupportedBackends(): this onnxruntime-node build lacks it', error: null };

  it('tensorrt on a board without it: cpu instead, with the probe\'s reason', () => {
    const plan = providerPlan(config(['tensorrt']), device({ checks: [trt], usable: ['cpu', 'tfjs-wasm'] }));
    expect(plan.chain).toEqual(['cpu']);
    expect(plan.substituted).toBe(true);
    expect(plan.expected).toBe(false);
    expect(plan.notice).toBe('tensorrt configured but not available on this board: using cpu');
    expect(plan.unavailable).toEqual([{ provider: 'tensorrt', reason: trt.evidence }]);
  });

  it('the default chain on a CPU board names the GPU providers it leaves out, and keeps cpu', () => {
    const plan = providerPlan(config(['tensorrt', 'cuda', 'cpu']), device({ usable: ['cpu'] }));
    expect(plan.chain).toEqual(['cpu']);
    expect(plan.substituted).toBe(false);
    // the default chain on a board without a GPU: an info line, not a warning at every start
    expect(plan.expected).toBe(true);
    expect(plan.notice).toBe('tensorrt, cuda configured but not available on this board: using cpu');
    expect(providerPlan(config(['tensorrt', 'cpu']), device({ usable: ['cpu'] })).expected).toBe(false);
  });

  it('32-bit ARM: onnxruntime did not load, so the board\'s tfjs-wasm runs', () => {
    const plan = providerPlan(config(['cpu']), device({ status: 'unavailable', usable: ['tfjs-wasm'], error: 'onnxruntime-node ships no linux/arm binary' }));
    expect(plan.chain).toEqual(['tfjs-wasm']);
    expect(plan.expected).toBe(false);
    expect(plan.notice).toBe('cpu configured but not available on this board: using tfjs-wasm');
    expect(plan.unavailable[0]!.reason).toMatch(/onnxruntime-node did not load \(onnxruntime-node ships no linux\/arm binary\)/);
  });

  it('every configured provider usable: nothing to say', () => {
    expect(providerPlan(config(['tfjs-wasm', 'cpu']), device({ usable: ['cpu', 'tfjs-wasm'] })).notice).toBeUndefined();
  });

  it('edgefit doctor warns for each, with the provider used instead', async () => {
    const d = await probeDevice({ ort: createFakeOrt({ backends: NPM_ARM64_BACKENDS, working: ['cpu'] }) });
    const withTfjs = { ...d, providers: await withTfjsProviders(d.providers) };
    const report = await diagnose(withTfjs, { configuredProviders: ['tensorrt', 'tfjs-node'] });
    const texts = report.advice.map((a) => `${a.level} ${a.text}`);
    expect(texts).toContainEqual(expect.stringMatching(/^warn tensorrt configured \(engine.providers\) but not available on this board: .*; the daemon uses cpu$/));
    expect(texts).toContainEqual(expect.stringMatching(/^ok TensorFlow.js providers: .*tfjs-wasm proven/));
  });
});

describe('the device probe proves the TensorFlow.js providers', () => {
  it('tfjs-wasm works here; tfjs-node says whether its optional package is installed', async () => {
    const wasm = await checkTfjsProvider('tfjs-wasm');
    expect(wasm).toMatchObject({ name: 'tfjs-wasm', works: true, placedOn: ['wasm'] });
    let installed = true;
    try { await import('@tensorflow/tfjs-node' as string); } catch { installed = false; }
    const node = await checkTfjsProvider('tfjs-node');
    expect(node.works).toBe(installed);
    if (!installed) expect(node.evidence).toMatch(/optional dependency\) is not installed: `npm install @tensorflow\/tfjs-node`/);
    const info = await withTfjsProviders({ status: 'probed', ortVersion: '1.30.0', listed: [], checks: [], usable: ['cpu'], error: null });
    expect(info.usable).toEqual(installed ? ['cpu', 'tfjs-node', 'tfjs-wasm'] : ['cpu', 'tfjs-wasm']);
  }, 60_000);
});
