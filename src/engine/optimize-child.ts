import * as ort from 'onnxruntime-node';

// Runs in a child process: onnxruntime optimizes the model (all levels, this CPU's layouts) and writes the
// optimized graph to argv[3]. A child, so that the optimizer's transient memory never stays in the daemon.
const [model, out] = process.argv.slice(2);
if (!model || !out) {
  process.stderr.write('usage: optimize-child <model.onnx> <out.onnx>\n');
  process.exit(2);
}
try {
  const s = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', optimizedModelFilePath: out,
    // onnxruntime warns that an NCHWc-optimized graph is specific to this CPU: it is kept per CPU, so expected
    logSeverityLevel: 3,
  });
  await s.release();
  process.exit(0);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
