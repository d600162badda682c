import type { EngineKind } from './registry.js';
import type { EngineOptions, ModelIO, ProviderName } from './engine.js';

/** Messages between the engine host (main thread) and its worker. Buffers travel by transfer, never by copy. */
export interface WorkerInit {
  kind: EngineKind;
  modelPath: string;
  options: EngineOptions;
}

export type ToWorker =
  | { type: 'run'; id: number; input: ArrayBuffer; length: number; scores: ArrayBuffer }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; provider: ProviderName; refused: { provider: ProviderName; reason: string }[]; io: ModelIO }
  | { type: 'load-error'; message: string; code?: string }
  | { type: 'result'; id: number; input: ArrayBuffer; scores: ArrayBuffer; count: number; inferMs: number }
  | { type: 'run-error'; id: number; input: ArrayBuffer; scores: ArrayBuffer; message: string }
  | { type: 'closed' };
