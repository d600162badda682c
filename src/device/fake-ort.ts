import { writeFileSync } from 'node:fs';
import type { OrtBindingLike, OrtSessionLike, OrtSessionOptionsLike, OrtTensorLike } from './providers.js';
import { ORT_EP_NAME } from './providers.js';

/**
 * A stand-in for onnxruntime-node on machines without the hardware a test needs (a Jetson's CUDA/TensorRT).
 * It behaves like the real binding where the probe looks: unknown providers fail the way onnxruntime-common
 * fails, failing providers throw at session creation, and "silent" providers accept the session but place nodes
 * on the CPU (ORT's warning-only fallback) unless CPU fallback is disabled. Runs only the probe's Relu model.
 * Never used on a live probe: reports made with it are marked 'simulated'.
 */
export interface FakeOrtSpec {
  version?: string;
  /** what listSupportedBackends() returns */
  backends: Array<{ name: string; bundled: boolean }>;
  /** providers whose sessions really run on them */
  working: string[];
  /** providers whose session creation throws this message */
  failing?: Record<string, string>;
  /** providers that load but leave every node on the CPU (ORT then only warns) */
  silentCpuFallback?: string[];
}

class FakeTensor implements OrtTensorLike {
  constructor(readonly type: 'float32', readonly data: Float32Array, readonly dims: readonly number[]) {}
}

class FakeSession implements OrtSessionLike {
  constructor(private readonly placedOn: string, private readonly options: OrtSessionOptionsLike) {}

  async run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>> {
    const x = feeds['x']?.data;
    if (!(x instanceof Float32Array)) throw new Error('fake onnxruntime: input "x" must be a float32 tensor');
    return { y: new FakeTensor('float32', x.map((v) => Math.max(0, v)), [1, x.length]) };
  }

  endProfiling(): void {
    if (!this.options.enableProfiling || !this.options.profileFilePrefix) return;
    const events = [
      { cat: 'Session', name: 'session_initialization', args: {} },
      { cat: 'Node', name: 'probe_relu_kernel_time', args: { op_name: 'Relu', provider: this.placedOn } },
    ];
    writeFileSync(`${this.options.profileFilePrefix}_fake.json`, JSON.stringify(events));
  }

  async release(): Promise<void> {}
}

export function createFakeOrt(spec: FakeOrtSpec): OrtBindingLike & { sessionsCreated: OrtSessionOptionsLike[] } {
  const sessionsCreated: OrtSessionOptionsLike[] = [];
  return {
    sessionsCreated,
    simulated: true,
    listSupportedBackends: () => spec.backends.map((b) => ({ ...b })),
    Tensor: FakeTensor,
    env: { versions: { common: spec.version ?? '1.30.0', node: spec.version ?? '1.30.0' } },
    InferenceSession: {
      async create(_model: Uint8Array, options?: OrtSessionOptionsLike): Promise<OrtSessionLike> {
        const opts = options ?? { executionProviders: ['cpu'] };
        sessionsCreated.push(opts);
        const known = opts.executionProviders.filter((p) => spec.backends.some((b) => b.name === p));
        if (known.length === 0) {
          // onnxruntime-common's wording when no requested backend is registered
          throw new Error(`no available backend found. ERR: ${opts.executionProviders.map((p) => `[${p}] backend not found.`).join(', ')}`);
        }
        const ep = known[0]!;
        const failure = spec.failing?.[ep];
        if (failure) throw new Error(failure);
        const session = (opts.extra as { session?: { disable_cpu_ep_fallback?: string } } | undefined)?.session;
        const noFallback = session?.disable_cpu_ep_fallback === '1';
        let placedOn: string;
        if (spec.working.includes(ep)) placedOn = ORT_EP_NAME[ep] ?? ep;
        else if (spec.silentCpuFallback?.includes(ep) || ep === 'cpu') placedOn = ORT_EP_NAME['cpu']!;
        else throw new Error(`fake onnxruntime: provider ${ep} is listed but neither working nor failing in the spec`);
        if (noFallback && placedOn === ORT_EP_NAME['cpu']) {
          throw new Error('This session contains graph nodes that are assigned to the default CPU EP, but fallback to CPU EP has been explicitly disabled by the user.');
        }
        return new FakeSession(placedOn, opts);
      },
    },
  };
}

/**
 * The npm linux-arm64 onnxruntime-node (1.30): its binding names only 'cpu' (the x64 one also names webgpu, cuda,
 * tensorrt), so a Jetson with the stock package has no GPU provider at all.
 */
export const NPM_ARM64_BACKENDS = [{ name: 'cpu', bundled: true }];

/** An onnxruntime-node built on JetPack with --use_cuda --use_tensorrt. */
export const JETSON_GPU_BACKENDS = [
  { name: 'cpu', bundled: true },
  { name: 'cuda', bundled: true },
  { name: 'tensorrt', bundled: true },
];
