import type { Command } from 'commander';
import { loadClassifier } from '../pipeline/classify.js';
import { EdgefitError } from '../util/errors.js';

function positiveInt(name: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new EdgefitError('E_ARGS', `${name} ${v}: expected a positive integer`);
  return n;
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('classify image files (JPEG, PNG, BMP) with a model: .onnx with its card beside it, or .tflite/.h5 imported on the fly')
    .argument('<model>', 'the model (.onnx, .tflite, .h5)')
    .argument('<images...>', 'image files')
    .option('--top <k>', 'how many classes to print per image', '5')
    .option('--json', 'print JSON: [{path, top:[{label, score}]}]')
    .option('--labels <file>', 'class names, one per line (overrides the card)')
    .option('--resolution <n>', 'input size for models that run at any resolution')
    .action(async (model: string, images: string[], flags: { top: string; json?: boolean; labels?: string; resolution?: string }) => {
      const k = positiveInt('--top', flags.top, 5)!;
      const resolution = positiveInt('--resolution', flags.resolution);
      const classifier = await loadClassifier(model, { labelsPath: flags.labels, resolution });
      try {
        const results: { path: string; top: { label: string; score: number }[] }[] = [];
        for (const path of images) {
          const top = await classifier.classifyFile(path, k);
          results.push({ path, top: top.map((t) => ({ label: t.label, score: Number(t.score.toFixed(6)) })) });
          if (!flags.json) {
            process.stdout.write(`${path}\n`);
            for (const t of top) process.stdout.write(`  ${t.score.toFixed(4)}  ${t.label}\n`);
          }
        }
        if (flags.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      } finally {
        await classifier.close();
      }
    });
}
