import * as ort from 'onnxruntime-node';
import { serveIsolated } from '../util/isolated-main.js';

// Runs in a child process (runIsolated, src/engine/optimized-model.ts): onnxruntime optimizes the model (all
// levels, this CPU's layouts) and writes the optimized graph to `out`. A child, so that the optimizer's
// transient memory never stays in the daemon.
serveIsolated(async ({ model, out }: { model: string; out: string }) => {
  const s = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', optimizedModelFilePath: out,
    // onnxruntime warns that an NCHWc-optimized graph is specific to this CPU: it is kept per CPU, so expected
    logSeverityLevel: 3,
  });
  await s.release();
}, 'E_OPTIMIZE');
