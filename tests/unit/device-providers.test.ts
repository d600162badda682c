import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { checkProvider, probeProviders, type OrtBindingLike, type OrtSessionOptionsLike } from '../../src/device/providers.js';
import { createFakeOrt, JETSON_GPU_BACKENDS, NPM_ARM64_BACKENDS } from '../../src/device/fake-ort.js';

const realOrt = ort as unknown as OrtBindingLike;

describe('provider proof with the real onnxruntime-node', () => {
  it('proves cpu by a session whose profile puts the node on CPUExecutionProvider', async () => {
    const c = await checkProvider(realOrt, 'cpu', { name: 'cpu', bundled: true });
    expect(c).toMatchObject({ works: true, placedOn: ['CPUExecutionProvider'], error: null });
  });

  it('does not report cuda or tensorrt on a machine without an NVIDIA GPU, even when the binding lists them', async () => {
    const info = await probeProviders(realOrt);
    expect(info.status).toBe('probed');
    expect(info.ortVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(info.usable).toEqual(['cpu']);
    for (const name of ['cuda', 'tensorrt']) {
      const c = info.checks.find((x) => x.name === name)!;
      expect(c.works).toBe(false);
      // either absent from this build, or listed and failing with ORT's own message
      if (c.listed) expect(c.error).toBeTruthy();
      else expect(c.evidence).toMatch(/not listed/);
    }
  });

  it('the embedded probe model is exactly the one-node Relu model the ONNX builder makes', async () => {
    const { probeModel } = await import('../../src/device/providers.js');
    const { OnnxBuilder } = await import('../../src/onnx/builder.js');
    const { DataType } = await import('../../src/onnx/proto.js');
    const b = new OnnxBuilder('edgefit_provider_probe');
    const x = b.input('x', DataType.FLOAT, [1, 4]);
    b.output(b.op('Relu', [x], {}, 'probe_relu', 'y'), DataType.FLOAT, [1, 4]);
    expect(Buffer.from(probeModel()).equals(Buffer.from(b.toBytes()))).toBe(true);
  });

  it('ORT refuses a session whose nodes would land on the CPU once CPU fallback is disabled (the mechanism the probe relies on)', async () => {
    const { probeModel } = await import('../../src/device/providers.js');
    await expect(ort.InferenceSession.create(probeModel(), {
      executionProviders: ['cpu'],
      logSeverityLevel: 4,
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    })).rejects.toThrow(/fallback to CPU EP has been explicitly disabled/);
  });
});

describe('provider proof with a fake binding (Jetson)', () => {
  it('a JetPack GPU build: tensorrt, cuda and cpu proven, each alone, non-CPU ones without CPU fallback', async () => {
    const fake = createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu', 'cuda', 'tensorrt'] });
    const info = await probeProviders(fake, 'simulated');
    expect(info.usable).toEqual(['tensorrt', 'cuda', 'cpu']);
    expect(info.status).toBe('simulated');
    expect(info.checks.find((c) => c.name === 'tensorrt')!.placedOn).toEqual(['TensorrtExecutionProvider']);
    expect(fake.sessionsCreated.map((o) => o.executionProviders)).toEqual([['cpu'], ['cuda'], ['tensorrt']]);
    const fallback = (o: OrtSessionOptionsLike) => (o.extra as { session?: { disable_cpu_ep_fallback?: string } } | undefined)?.session?.disable_cpu_ep_fallback;
    expect(fake.sessionsCreated.map(fallback)).toEqual([undefined, '1', '1']);
  });

  it('the stock npm arm64 package: cuda and tensorrt are not listed, so never usable', async () => {
    const info = await probeProviders(createFakeOrt({ backends: NPM_ARM64_BACKENDS, working: ['cpu'] }));
    expect(info.usable).toEqual(['cpu']);
    expect(info.checks.find((c) => c.name === 'cuda')).toMatchObject({ listed: false, works: false });
  });

  it('a provider that loads but leaves nodes on the CPU is caught by the disabled fallback', async () => {
    const fake = createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu', 'tensorrt'], silentCpuFallback: ['cuda'] });
    const info = await probeProviders(fake);
    expect(info.usable).toEqual(['tensorrt', 'cpu']);
    expect(info.checks.find((c) => c.name === 'cuda')!.error).toMatch(/fallback to CPU EP has been explicitly disabled/);
  });

  it('a binding that ignores the fallback option is caught by the profiler placement', async () => {
    const base = createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu'], silentCpuFallback: ['cuda', 'tensorrt'] });
    const lax: OrtBindingLike = {
      ...base,
      InferenceSession: { create: (m, o) => base.InferenceSession.create(m, { ...o!, extra: undefined }) },
    };
    const c = await checkProvider(lax, 'cuda', { name: 'cuda', bundled: true });
    expect(c.works).toBe(false);
    expect(c.placedOn).toEqual(['CPUExecutionProvider']);
    expect(c.evidence).toMatch(/placed the nodes on CPUExecutionProvider, not CUDAExecutionProvider/);
  });

  it('a session that computes the wrong answer does not prove its provider', async () => {
    const base = createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu', 'cuda'] });
    const broken: OrtBindingLike = {
      ...base,
      InferenceSession: {
        async create(m, o) {
          const s = await base.InferenceSession.create(m, o);
          return { ...s, run: async () => ({ y: { data: new Float32Array([0, 0, 0, 0]) } }), endProfiling: () => s.endProfiling(), release: () => s.release() };
        },
      },
    };
    const c = await checkProvider(broken, 'cuda', { name: 'cuda', bundled: true });
    expect(c.works).toBe(false);
    expect(c.evidence).toMatch(/computed \[0,0,0,0\]/);
  });

  it('keeps the loader error of a failing provider', async () => {
    const msg = 'libcudart.so.12: cannot open shared object file: No such file or directory';
    const info = await probeProviders(createFakeOrt({ backends: JETSON_GPU_BACKENDS, working: ['cpu'], failing: { cuda: msg, tensorrt: msg } }));
    expect(info.usable).toEqual(['cpu']);
    expect(info.checks.find((c) => c.name === 'tensorrt')!.error).toBe(msg);
  });
});
