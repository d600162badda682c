import type { Command } from 'commander';
import { basename, extname, join, resolve } from 'node:path';
import { importModel } from '../importers/index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { EdgefitError } from '../util/errors.js';

export function register(program: Command): void {
  program
    .command('import')
    .description('convert a .tflite, Keras .h5 or .onnx model into an edgefit ONNX model (uint8 RGB NHWC input) and its card')
    .argument('<file>', 'the model file (.tflite, .h5, .onnx)')
    .option('--labels <file>', 'class names, one per line')
    .option('--out <dir>', 'where to write <name>.onnx and <name>.card.json', '.')
    .option('--emit <mode>', 'TFLite only: qdq (default), qlinear, or float (weights dequantized, for fidelity checks)')
    .action(async (file: string, flags: { labels?: string; out: string; emit?: string }) => {
      if (flags.emit !== undefined && !['qdq', 'qlinear', 'float'].includes(flags.emit)) {
        throw new EdgefitError('E_ARGS', `--emit ${flags.emit}: use qdq, qlinear or float`);
      }
      const { onnx, card } = await importModel(file, { labelsPath: flags.labels, emit: flags.emit as 'qdq' | 'qlinear' | 'float' | undefined });
      const name = basename(file, extname(file));
      const outDir = resolve(flags.out);
      const modelPath = join(outDir, `${name}.onnx`);
      const cardPath = join(outDir, `${name}.card.json`);
      if (resolve(file) === modelPath) throw new EdgefitError('E_ARGS', `${file} would be overwritten by its own import; pass --out with another directory`);
      // model first, card last: a card on disk always describes a complete model beside it
      await writeFileAtomic(modelPath, onnx);
      await writeFileAtomic(cardPath, JSON.stringify(card, null, 2) + '\n');
      const res = card.anyResolution ? `any resolution (native ${card.resolution})` : `${card.resolution}x${card.resolution}`;
      process.stdout.write(`${modelPath}\n${cardPath}\n${card.classes} classes, ${card.precision}, input uint8 NHWC ${res}${card.quantization ? `, ${card.quantization}` : ''}\n`);
    });
}
