import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProviderName } from '../engine/engine.js';
import { errorMessage } from '../util/errors.js';
import { ortUnavailable } from '../engine/registry.js';
import type { ProviderCheck, ProvidersInfo } from './types.js';

/** The part of onnxruntime-node the probe uses; the real module satisfies it, and so does FakeOrt. */
export interface OrtTensorLike {
  readonly data: unknown;
}

export interface OrtSessionLike {
  run(feeds: Record<string, OrtTensorLike>): Promise<Record<string, OrtTensorLike>>;
  endProfiling(): void;
  release(): Promise<void>;
}

export interface OrtSessionOptionsLike {
  executionProviders: string[];
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  enableProfiling?: boolean;
  profileFilePrefix?: string;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  extra?: Record<string, unknown>;
}

export interface OrtBindingLike {
  listSupportedBackends(): Array<{ name: string; bundled: boolean }>;
  InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptionsLike): Promise<OrtSessionLike> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensorLike;
  env: { versions: { common?: string; node?: string }; logLevel?: string };
  /** set by test doubles: their reports are marked 'simulated', never taken for this machine's hardware */
  readonly simulated?: boolean;
}

/** ORT's execution provider names as its profiler reports them. */
export const ORT_EP_NAME: Record<string, string> = {
  cpu: 'CPUExecutionProvider',
  cuda: 'CUDAExecutionProvider',
  tensorrt: 'TensorrtExecutionProvider',
};

/** Providers the engine can use, in the order edgefit prefers them. */
const PREFERENCE: ProviderName[] = ['tensorrt', 'cuda', 'cpu'];

const INPUT = new Float32Array([1, -2, 3, -4]);
const EXPECTED = [1, 0, 3, 0];

/**
 * A one-node model (Relu, x[1,4] -> y[1,4]) every provider implements: if a session with only that provider runs
 * it, the provider works. Kept as its bytes so the daemon does not load protobufjs (~10 MB RSS) to build it;
 * tests/unit/device-providers.test.ts checks they equal what src/onnx/builder.ts builds.
 */
const PROBE_MODEL = 'CAgSB2VkZ2VmaXQaBTAuMS4wOlwKGAoBeBIBeRoKcHJvYmVfcmVsdSIEUmVsdRIWZWRnZWZpdF9wcm92aWRlcl9wcm9iZVoTCgF4Eg4KDAgBEggKAggBCgIIBGITCgF5Eg4KDAgBEggKAggBCgIIBEIECgAQDQ==';

export function probeModel(): Uint8Array {
  return new Uint8Array(Buffer.from(PROBE_MODEL, 'base64'));
}

/** Node placements ("provider" of each Node event) from ORT profiler JSON files in `dir`. */
async function placements(dir: string): Promise<string[]> {
  const found = new Set<string>();
  for (const f of await readdir(dir)) {
    if (!f.endsWith('.json')) continue;
    let events: unknown;
    try {
      events = JSON.parse(await readFile(join(dir, f), 'utf8'));
    } catch {
      continue;
    }
    if (!Array.isArray(events)) continue;
    for (const e of events as Array<{ cat?: string; args?: { provider?: unknown } }>) {
      if (e?.cat === 'Node' && typeof e.args?.provider === 'string') found.add(e.args.provider);
    }
  }
  return [...found].sort();
}

/**
 * Proves one provider. onnxruntime-common silently drops a requested provider it has no backend for when
 * another one in the list is available, and ORT assigns nodes a provider cannot run to the CPU with only a
 * warning. So the session gets this provider ALONE, with `session.disable_cpu_ep_fallback=1` (creation then
 * fails if any node would land on the CPU), runs once, and ORT's profiler must report every node on it.
 */
export async function checkProvider(ort: OrtBindingLike, name: string, listed: { name: string; bundled: boolean } | undefined): Promise<ProviderCheck> {
  const base = { name, listed: !!listed, bundled: listed?.bundled ?? null, placedOn: [] as string[] };
  if (!listed) {
    return { ...base, works: false, evidence: 'not listed by listSupportedBackends(): this onnxruntime-node build lacks it', error: null };
  }
  const dir = await mkdtemp(join(tmpdir(), 'edgefit-ep-'));
  let session: OrtSessionLike | null = null;
  try {
    const options: OrtSessionOptionsLike = {
      executionProviders: [name],
      logSeverityLevel: 3,
      enableProfiling: true,
      profileFilePrefix: join(dir, 'profile'),
    };
    if (name !== 'cpu') options.extra = { session: { disable_cpu_ep_fallback: '1' } };
    session = await ort.InferenceSession.create(probeModel(), options);
    const out = await session.run({ x: new ort.Tensor('float32', INPUT, [1, 4]) });
    const y = out['y']?.data;
    const got = y instanceof Float32Array ? Array.from(y) : null;
    session.endProfiling();
    const placedOn = await placements(dir);
    const want = ORT_EP_NAME[name];
    if (!got || got.length !== 4 || got.some((v, i) => v !== EXPECTED[i])) {
      return { ...base, placedOn, works: false, evidence: `session ran but computed ${JSON.stringify(got)} instead of ${JSON.stringify(EXPECTED)}`, error: null };
    }
    if (placedOn.length > 0 && (placedOn.length !== 1 || placedOn[0] !== want)) {
      return { ...base, placedOn, works: false, evidence: `ORT placed the nodes on ${placedOn.join(', ')}, not ${want ?? name}`, error: null };
    }
    const how = placedOn.length > 0 ? `profiler shows every node on ${placedOn[0]}` : 'no profile written; CPU fallback was disabled';
    return { ...base, placedOn, works: true, evidence: `session with only ${name} ran the probe model; ${how}`, error: null };
  } catch (err) {
    return { ...base, works: false, evidence: 'session creation or run failed', error: firstLine(errorMessage(err)) };
  } finally {
    await session?.release().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim().slice(0, 400);
}

/** Providers of interest: those the engine can drive (cpu, cuda, tensorrt), checked one at a time. */
export async function probeProviders(ort: OrtBindingLike, status: 'probed' | 'simulated' = 'probed'): Promise<ProvidersInfo> {
  let listed: Array<{ name: string; bundled: boolean }>;
  try {
    listed = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  } catch (err) {
    return { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error: errorMessage(err) };
  }
  const checks: ProviderCheck[] = [];
  for (const name of ['cpu', 'cuda', 'tensorrt']) {
    checks.push(await checkProvider(ort, name, listed.find((b) => b.name === name)));
  }
  const usable = PREFERENCE.filter((p) => checks.some((c) => c.name === p && c.works));
  const ortVersion = ort.env.versions.node ?? ort.env.versions.common ?? null;
  return { status, ortVersion, listed, checks, usable, error: null };
}

/** Loads the real onnxruntime-node; a binding that cannot load (old glibc, missing binary) is reported, not thrown. */
export async function loadOrt(opts: { quiet?: boolean } = {}): Promise<{ ort: OrtBindingLike | null; error: string | null }> {
  const none = ortUnavailable();
  if (none) return { ort: null, error: none };
  try {
    const mod = (await import('onnxruntime-node')) as unknown as { default?: OrtBindingLike } & OrtBindingLike;
    const ort = typeof mod.listSupportedBackends === 'function' ? mod : mod.default;
    if (!ort) return { ort: null, error: 'onnxruntime-node loaded but exports no listSupportedBackends()' };
    // The probe reports provider failures itself; ORT would also print them to stderr. The level is read once, when
    // the first session is created, so this only takes effect in a process that has not used ORT yet (the CLI).
    if (opts.quiet) ort.env.logLevel = 'fatal';
    return { ort, error: null };
  } catch (err) {
    return { ort: null, error: errorMessage(err) };
  }
}
