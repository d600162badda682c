import type { Command } from 'commander';
import { quantizeFile } from '../quant/file.js';
import { formatFidelity } from '../quant/fidelity.js';
import { EdgefitError } from '../util/errors.js';

export function register(program: Command): void {
  program
    .command('quantize')
    .description('post-training int8 quantization of a float edgefit ONNX model (QDQ that onnxruntime runs on integer kernels), with a fidelity report')
    .argument('<model>', 'float .onnx with uint8 NHWC input (from edgefit import or the zoo)')
    .requiredOption('--calib <dir>', 'folder of photos like the camera sees, for calibration')
    .option('--method <m>', 'activation ranges: minmax, percentile, mse, or auto (measure all three on held-out calibration photos and keep the best)', 'auto')
    .option('--weights <bits>', 'weight bits: 8, 7, or auto (measure both on this machine and keep the more faithful)', 'auto')
    .option('--labels <file>', 'class names, one per line (for accuracy in the report)')
    .option('--eval <dir>', 'labelled photos (labels.json beside them) for the fidelity report')
    .option('--resolution <n>', 'input size, for models with an open input size')
    .option('--out <dir>', 'where to write <name>-int8.onnx, .card.json and .fidelity.json (default: beside the model)')
    .option('--json', 'print the report as JSON')
    .action(async (model: string, f: { calib: string; method: string; weights: string; labels?: string; eval?: string; resolution?: string; out?: string; json?: boolean }) => {
      if (!['minmax', 'percentile', 'mse', 'auto'].includes(f.method)) throw new EdgefitError('E_FLAGS', `--method ${f.method}: use minmax, percentile, mse or auto`);
      if (!['8', '7', 'auto'].includes(f.weights)) throw new EdgefitError('E_FLAGS', `--weights ${f.weights}: use 8, 7 or auto`);
      const resolution = f.resolution === undefined ? undefined : Number(f.resolution);
      if (resolution !== undefined && !(Number.isInteger(resolution) && resolution >= 8)) throw new EdgefitError('E_FLAGS', `--resolution ${f.resolution}: use an integer >= 8`);
      const r = await quantizeFile(model, {
        calibDir: f.calib, method: f.method as 'minmax' | 'percentile' | 'mse' | 'auto', weights: f.weights === 'auto' ? 'auto' : (Number(f.weights) as 8 | 7),
        labelsPath: f.labels, evalDir: f.eval, outDir: f.out, resolution,
      });
      if (f.json) { process.stdout.write(JSON.stringify(r.report, null, 2) + '\n'); return; }
      const q = r.report.quantization;
      const lines = [r.modelPath, r.cardPath, r.reportPath,
        `${q.tag}: ${q.tensors.length} activation tensors, ${q.weights.length} weighted layers, ${q.calibFrames} calibration frames`,
        `integer kernels: ${r.report.kernels.ok ? 'yes' : 'NO'} (${r.report.kernels.integerNodes} integer nodes${r.report.kernels.floatComputeNodes.length ? `; float: ${r.report.kernels.floatComputeNodes.join(', ')}` : ''})`];
      if (q.equalization) lines.push(`cross-layer equalization: ${q.equalization.pairs} conv pairs, ${q.equalization.scaled} channels rescaled, ${q.equalization.clipBlocked} kept by a ReLU6 that could clip`);
      if (q.adaround) {
        const l = q.adaround.layers;
        const sum = (k: 'nearestMse' | 'adaptiveMse') => l.reduce((a, x) => a + x[k], 0);
        lines.push(`adaptive rounding (seed ${q.adaround.seed}): ${l.length} layers, ${l.reduce((a, x) => a + x.changed, 0)} weights rounded away from nearest, layer output MSE on calibration ${sum('nearestMse').toExponential(2)} -> ${sum('adaptiveMse').toExponential(2)}`);
      }
      if (r.report.rangeChoice) {
        const rc = r.report.rangeChoice;
        lines.push(`activation ranges: ${rc.method} (rule: ${rc.rule})`);
        for (const c of rc.candidates) lines.push(`  ${c.method.padEnd(10)} held-out agreement ${c.agree}/${c.frames}, clear-margin ${c.clearAgree}/${c.clear}, cosine mean ${c.cosineMean.toFixed(4)} min ${c.cosineMin.toFixed(4)}`);
      }
      if (r.report.choice) {
        for (const c of r.report.choice) lines.push(`  weights ${c.weightBits}-bit, depthwise ${c.depthwiseBits}-bit: agreement ${c.agree}/${c.frames}, cosine mean ${c.meanCosine.toFixed(4)} min ${c.minCosine.toFixed(4)}`);
      }
      lines.push(`quantized in ${r.report.seconds.toFixed(1)} s`);
      if (r.report.fidelity) lines.push('', formatFidelity(r.report.fidelity));
      process.stdout.write(lines.join('\n') + '\n');
    });
}
