import { EdgefitError, errorMessage } from '../util/errors.js';
import type { Engine, EngineFactory, EngineOptions } from './engine.js';

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
}

const engines = new Map<string, Registration>();

export function registerEngine(name: string, factory: EngineFactory | EngineFactoryLoader, priority: number): void {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new TypeError(`engine name ${JSON.stringify(name)}: expected lower-case letters, digits and '-'`);
  if (!Number.isFinite(priority)) throw new TypeError(`engine ${name}: priority ${priority} is not a number`);
  const known = engines.get(name);
  if (known) {
    if (known.source === factory) return;
    throw new Error(`engine ${name} is already registered`);
  }
  const load: EngineFactoryLoader = typeof factory === 'function' ? factory : async () => factory;
  engines.set(name, { load, priority, source: factory });
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
  return r.load();
}

/**
 * Loads the model with the first engine of `hints` (default: every engine by priority) that accepts it. One
 * engine tried: its own error, unchanged (its code and advice). Several: one error naming each with its reason.
 */
export async function loadEngine(modelPath: string, options: EngineOptions, hints: readonly string[] = []): Promise<Engine> {
  const names = hints.length > 0 ? hints : engineNames();
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

// The engines edgefit ships. onnxruntime first; TensorFlow.js (large, for boards whose glibc onnxruntime-node
// cannot load) only when asked for by name, as before: a model onnxruntime refuses is refused, not run elsewhere.
registerEngine('onnxruntime', async () => (await import('./onnxruntime.js')).ortEngineFactory, 100);
registerEngine('tfjs', async () => (await import('./tfjs/factory.js')).tfjsEngineFactory, -1);
