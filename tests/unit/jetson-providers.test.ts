import { describe, expect, it } from 'vitest';
import { createFakeOrt, JETSON_GPU_BACKENDS, NPM_ARM64_BACKENDS } from '../../src/device/fake-ort.js';
import { probeModel, probeProviders } from '../../src/device/providers.js';
import { providerSessionOptions } from '../../src/engine/ort-binding.js';
import { searchAndSelect, specsFor } from '../../src/select/search.js';
import type { ProviderName } from '../../src/engine/engine.js';
import type { CandidateSpec } from '../../src/select/types.js';
import { meas, variant } from './select-fixtures.js';

describe('Jetson provider chain (fake onnxruntime binding, same interface as onnxruntime-node)', () => {
  it('a JetPack build with CUDA and TensorRT working is used as tensorrt > cuda > cpu', async () => {
    const ort = createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu', 'cuda', 'tensorrt'] });
    const p = await probeProviders(ort, 'simulated');
    expect(p.usable).toEqual(['tensorrt', 'cuda', 'cpu']);
    // every provider was proven alone, GPU ones with CPU fallback disabled
    const gpu = ort.sessionsCreated.filter((o) => o.executionProviders[0] !== 'cpu');
    expect(gpu.map((o) => o.executionProviders)).toEqual([['cuda'], ['tensorrt']]);
    for (const o of gpu) expect(o.extra).toEqual({ session: { disable_cpu_ep_fallback: '1' } });
  });

  it('falls back to cuda when the TensorRT library is missing, to cpu when CUDA is missing too', async () => {
    const noTrt = createFakeOrt({
      backends: JETSON_GPU_BACKENDS, working: ['cpu', 'cuda'],
      failing: { tensorrt: 'libnvinfer.so.8: cannot open shared object file: No such file or directory' },
    });
    const a = await probeProviders(noTrt, 'simulated');
    expect(a.usable).toEqual(['cuda', 'cpu']);
    expect(a.checks.find((c) => c.name === 'tensorrt')?.error).toContain('libnvinfer.so.8');

    const none = createFakeOrt({
      backends: JETSON_GPU_BACKENDS, working: ['cpu'],
      failing: { tensorrt: 'libnvinfer.so.8: cannot open shared object file', cuda: 'libcudart.so.12: cannot open shared object file' },
    });
    expect((await probeProviders(none, 'simulated')).usable).toEqual(['cpu']);
    // the stock npm linux-arm64 package lists only cpu
    expect((await probeProviders(createFakeOrt({ backends: NPM_ARM64_BACKENDS, working: ['cpu'] }), 'simulated')).usable).toEqual(['cpu']);
  });

  it('catches a provider that loads but silently runs every node on the CPU', async () => {
    const ort = createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu', 'tensorrt'], silentCpuFallback: ['cuda'] });
    const p = await probeProviders(ort, 'simulated');
    expect(p.usable).toEqual(['tensorrt', 'cpu']);
    const cuda = p.checks.find((c) => c.name === 'cuda')!;
    expect(cuda.works).toBe(false);
    expect(cuda.error).toMatch(/fallback to CPU EP has been explicitly disabled/);
    // without the flag the same session is accepted: the flag is what makes the silent fallback visible
    const lax = await ort.InferenceSession.create(probeModel(), { executionProviders: ['cuda'] });
    await lax.release();
    // the engine's per-provider options carry the same flag (cuda's EP entry is a plain { name } object; the fake
    // takes provider names as strings)
    const opts = providerSessionOptions('cuda');
    expect(opts.executionProviders).toEqual([{ name: 'cuda' }]);
    await expect(ort.InferenceSession.create(probeModel(), { ...opts, executionProviders: ['cuda'] })).rejects.toThrow(/fallback to CPU EP/);
  });

  it('passes the TensorRT engine cache directory and FP16 flag under the TensorRT EP option names', () => {
    // (the fake binding accepts provider names only, so this checks the options edgefit hands to create())
    const seen = providerSessionOptions('tensorrt', { trtCacheDir: '/var/lib/edgefit/trt-cache', trtFp16: true });
    expect(seen.executionProviders).toEqual([{ name: 'tensorrt', trt_engine_cache_enable: true, trt_engine_cache_path: '/var/lib/edgefit/trt-cache', trt_fp16_enable: true }]);
    expect(seen.extra).toEqual({ session: { disable_cpu_ep_fallback: '1' } });
    // no cache dir: no cache options at all (TensorRT would otherwise write engines to the working directory)
    expect(providerSessionOptions('tensorrt').executionProviders).toEqual([{ name: 'tensorrt' }]);
    expect(providerSessionOptions('cpu')).toEqual({ executionProviders: ['cpu'] });
  });
});

describe('selection on a Jetson: each provider is its own candidate', () => {
  // recorded-style figures: the GPU runs the big variants far faster than the Orin's A78AE cores
  const ladder = [
    variant('mnv1-0.25-128', { alpha: 0.25, resolution: 128, macs: 14e6, referenceAccuracy: 0.395 }),
    variant('mnv1-0.5-160', { alpha: 0.5, resolution: 160, macs: 77e6, referenceAccuracy: 0.6 }),
    variant('mnv1-1.0-224', { alpha: 1, resolution: 224, macs: 569e6, referenceAccuracy: 0.7 }),
  ];
  const figures: Record<string, number> = {
    'mnv1-0.25-128@cpu': 3, 'mnv1-0.5-160@cpu': 9, 'mnv1-1.0-224@cpu': 48,
    'mnv1-0.25-128@cuda': 2, 'mnv1-0.5-160@cuda': 3, 'mnv1-1.0-224@cuda': 6,
  };
  const measure = async (c: CandidateSpec) => meas(c.variant.id, figures[`${c.variant.id}@${c.provider}`]!, { provider: c.provider });

  it('with cuda usable it picks the largest variant that fits on the GPU', async () => {
    const providers: ProviderName[] = ['cuda', 'cpu'];
    const specs = specsFor(ladder, providers);
    expect(specs).toHaveLength(6);
    const { decision: d } = await searchAndSelect(specs, { latencyMs: 20 }, measure);
    expect(d.chosen?.id).toBe('mnv1-1.0-224@cuda');
    // the same variant on the CPU misses the budget
    const { decision: cpuOnly } = await searchAndSelect(specsFor(ladder, ['cpu']), { latencyMs: 20 }, measure);
    expect(cpuOnly.chosen?.id).toBe('mnv1-0.5-160@cpu');
  });

  it('a GPU candidate that failed (e.g. out of GPU memory) does not hide the CPU one', async () => {
    const { decision: d } = await searchAndSelect(specsFor(ladder, ['cuda', 'cpu']), { latencyMs: 60 }, async (c) =>
      c.provider === 'cuda' && c.variant.id === 'mnv1-1.0-224'
        ? { ...meas(c.variant.id, 0, { provider: 'cuda' }), ok: false, error: 'CUDA failure 2: out of memory' }
        : measure(c));
    expect(d.chosen?.id).toBe('mnv1-1.0-224@cpu');
  });
});
