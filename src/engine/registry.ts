import type { EngineFactory } from './engine.js';

/**
 * Engines by name, loaded lazily so a board without TensorFlow.js never imports it. `fault-*` engines exist
 * for the fault-injection tests (a run that hangs or kills its worker) and are refused unless
 * EDGEFIT_TEST_ALLOW_FAULT_ENGINES=1.
 */
export type EngineKind = 'onnxruntime' | 'tfjs' | 'fault-hang' | 'fault-crash';

export const ENGINE_KINDS: readonly EngineKind[] = ['onnxruntime', 'tfjs', 'fault-hang', 'fault-crash'];

export async function engineFactory(kind: EngineKind): Promise<EngineFactory> {
  switch (kind) {
    case 'onnxruntime':
      return (await import('./onnxruntime.js')).ortEngineFactory;
    case 'tfjs': {
      // loaded only when asked for: TensorFlow.js is large and most boards run onnxruntime
      return (await import('./tfjs/factory.js')).tfjsEngineFactory;
    }
    case 'fault-hang':
    case 'fault-crash':
      if (process.env.EDGEFIT_TEST_ALLOW_FAULT_ENGINES !== '1') {
        throw new Error(`engine ${kind} is a fault-injection engine for tests; set EDGEFIT_TEST_ALLOW_FAULT_ENGINES=1 to use it`);
      }
      return (await import('./fault-engine.js')).faultEngineFactory(kind);
  }
}
