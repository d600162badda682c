import { ortEngineFactory } from './onnxruntime.js';
import type { Engine, EngineFactory } from './engine.js';

/**
 * Test-only engines (refused unless EDGEFIT_TEST_ALLOW_FAULT_ENGINES=1): onnxruntime underneath, but after
 * EDGEFIT_TEST_FAULT_AFTER runs (default 3) each run hangs forever (`fault-hang`) or kills its worker (`fault-crash`).
 * The count is per worker, so a replaced worker runs normally again for that many frames.
 */
export function faultEngineFactory(kind: 'fault-hang' | 'fault-crash'): EngineFactory {
  const after = Number(process.env.EDGEFIT_TEST_FAULT_AFTER ?? '3');
  return {
    name: kind,
    async load(modelPath, options): Promise<Engine> {
      const inner = await ortEngineFactory.load(modelPath, options);
      let runs = 0;
      return {
        name: kind,
        get provider() { return inner.provider; },
        get refused() { return inner.refused; },
        get io() { return inner.io; },
        async run(frame) {
          if (++runs > after) {
            if (kind === 'fault-crash') process.exit(70);
            // a JS busy loop: the worker is stuck the way a hung native call would leave it
            for (;;) { /* hang */ }
          }
          return inner.run(frame);
        },
        close: () => inner.close(),
      };
    },
  };
}
