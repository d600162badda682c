import { EdgefitError, errorMessage } from '../util/errors.js';
import type { Engine, EngineFactory, EngineOptions, ProviderName } from './engine.js';

/**
 * Engines by name, registered with a priority (the style of onnxruntime's js/common backend registry): the
 * interfaces are in engine.ts, a factory registers itself here, and `loadEngine` tries the engines named (or
 * every engine of priority >= 0, highest first) in order and reports every failure, not only the last.
 * A registration may be a loader, so that an engine's module is imported only when it is tried: a board
 * without TensorFlow.js never imports it.
 */
export type EngineFactoryLoader = () => Promise<EngineFactory>;

interface Registration {
  load: EngineFactoryLoader;
  /** higher first; below 0: used only when asked for by name, never as a fallback */
  priority: number;
  source: EngineFactory | EngineFactoryLoader;
  /** the providers (engine.providers names) this engine runs; undefined: whatever it is given (engine.modules) */
  providers?: readonly ProviderName[];
  /** why the engine cannot run on this machine at all (checked before its module is imported), or null */
  unavailable?: () => string | null;
}

export interface EngineRegistration {
  providers?: readonly ProviderName[];
  unavailable?: () => string | null;
}

const engines = new Map<string, Registration>();

export function registerEngine(name: string, factory: EngineFactory | EngineFactoryLoader, priority: number, reg: EngineRegistration = {}): void {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new TypeError(`engine name ${JSON.stringify(name)}: expected lower-case letters, digits and '-'`);
  if (!Number.isFinite(priority)) throw new TypeError(`engine ${name}: priority ${priority} is not a number`);
  const known = engines.get(name);
  if (known) {
    if (known.source === factory) return;
    throw new Error(`engine ${name} is already registered`);
  }
  const load: EngineFactoryLoader = typeof factory === 'function' ? factory : async () => factory;
  engines.set(name, { load, priority, source: factory, ...reg });
}

/** Why the engine cannot run here (e.g. onnxruntime-node on 32-bit ARM), or null when it may. */
export function engineUnavailable(name: string): string | null {
  return engines.get(name)?.unavailable?.() ?? null;
}

/**
 * The engines for a provider chain, highest priority first: those that name its first provider (an engine of
 * priority < 0 too: asking for its provider is asking for it by name) and those of priority >= 0 that take any.
 */
export function enginesFor(providers: readonly ProviderName[]): string[] {
  const first = providers[0];
  const ranked = [...engines.entries()].sort((a, b) => b[1].priority - a[1].priority);
  if (!first) return ranked.filter(([, r]) => r.priority >= 0).map(([n]) => n);
  return ranked.filter(([, r]) => r.providers?.includes(first) || (!r.providers && r.priority >= 0)).map(([n]) => n);
}

/** Names of the engines tried when none is asked for: priority >= 0, highest first (ties: first registered). */
export function engineNames(): string[] {
  return [...engines.entries()]
    .filter(([, r]) => r.priority >= 0)
    .sort((a, b) => b[1].priority - a[1].priority)
    .map(([n]) => n);
}

export async function engineFactory(name: string): Promise<EngineFactory> {
  const r = engines.get(name);
  if (!r) throw new EdgefitError('E_ENGINE_UNKNOWN', `no engine is named ${JSON.stringify(name)}; the engines are ${[...engines.keys()].join(', ')}`);
  const why = r.unavailable?.();
  if (why) throw new EdgefitError('E_ENGINE_UNAVAILABLE', `engine ${name} cannot run on this machine: ${why}`);
  return r.load();
}

/**
 * Loads the model with the first engine of `hints` (default: the engines for the provider chain, enginesFor) that
 * accepts it. One engine tried: its own error, unchanged (its code and advice). Several: one error naming each
 * with its reason.
 */
export async function loadEngine(modelPath: string, options: EngineOptions, hints: readonly string[] = []): Promise<Engine> {
  const names = hints.length > 0 ? hints : enginesFor(options.providers);
  if (names.length === 0) throw new EdgefitError('E_ENGINE_UNKNOWN', 'no engine is registered');
  const failures: { name: string; err: unknown }[] = [];
  for (const name of names) {
    try {
      const factory = await engineFactory(name);
      return await factory.load(modelPath, options);
    } catch (err) {
      failures.push({ name, err });
    }
  }
  if (failures.length === 1) throw failures[0]!.err;
  const detail = failures.map((f) => `[${f.name}] ${errorMessage(f.err)}`).join('; ');
  throw new EdgefitError('E_ENGINE_LOAD', `no engine could load ${modelPath}: ${detail}`, { cause: failures[0]!.err });
}

/**
 * onnxruntime-node ships binaries for linux x64 and arm64 only: on 32-bit ARM (Raspberry Pi OS armhf) its import
 * fails with a bare "Cannot find module .../linux/arm/onnxruntime_binding.node". Said plainly instead.
 */
export function ortUnavailable(platform: string = process.platform, arch: string = process.arch): string | null {
  const shipped: Record<string, readonly string[]> = { linux: ['x64', 'arm64'], darwin: ['arm64'], win32: ['x64', 'arm64'] };
  if (shipped[platform]?.includes(arch)) return null;
  return `onnxruntime-node ships no ${platform}/${arch} binary (32-bit Raspberry Pi OS is linux/arm); use engine.providers=tfjs-wasm`;
}

// The engines edgefit ships. onnxruntime first; TensorFlow.js (large, for boards onnxruntime-node cannot run on)
// when its providers are asked for (engine.providers tfjs-wasm / tfjs-node): a model onnxruntime refuses is
// refused, not run elsewhere.
registerEngine('onnxruntime', async () => (await import('./onnxruntime.js')).ortEngineFactory, 100, { providers: ['cpu', 'cuda', 'tensorrt'], unavailable: () => ortUnavailable() });
registerEngine('tfjs', async () => (await import('./tfjs/factory.js')).tfjsEngineFactory, -1, { providers: ['tfjs-node', 'tfjs-wasm'] });
