import type { EngineOptions, ModelIO, ProviderName } from './engine.js';
import type { MailboxBuffers } from './mailbox.js';

/**
 * Messages between the engine host (main thread) and its worker. Frames and scores travel through the shared
 * mailbox (src/engine/mailbox.ts); messages carry only what a result is about.
 */
export interface WorkerInit {
  /** a name registered in src/engine/registry.ts; absent: every engine of priority >= 0, highest first */
  kind?: string;
  /** absolute paths or file: URLs the worker imports before it loads the engine (they may register engines) */
  modules: string[];
  modelPath: string;
  options: EngineOptions;
}

export type ToWorker = { type: 'mailbox'; buffers: MailboxBuffers };

export type FromWorker =
  | { type: 'ready'; engine: string; provider: ProviderName; refused: { provider: ProviderName; reason: string }[]; io: ModelIO }
  | { type: 'load-error'; message: string; code?: string }
  /** `slot`: the mailbox result slot holding the scores */
  | { type: 'result'; seq: number; ts: number; slot: number; count: number; inferMs: number; startedAt: number }
  | { type: 'run-error'; seq: number; ts: number; message: string }
  | { type: 'closed' };
