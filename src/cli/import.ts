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
    .option('--input-scale <x>', 'Keras only: the model\'s float input = pixel * scale + offset (default: inferred, e.g. 1/127.5 for Keras Applications)')
    .option('--input-offset <x>', 'Keras only: see --input-scale (e.g. -1)')
    .action(async (file: string, flags: { labels?: string; out: string; emit?: string; inputScale?: string; inputOffset?: string }) => {
      if (flags.emit !== undefined && !['qdq', 'qlinear', 'float'].includes(flags.emit)) {
        throw new EdgefitError('E_FLAGS', `--emit ${flags.emit}: use qdq, qlinear or float`);
      }
      const num = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isFinite(n)) throw new EdgefitError('E_FLAGS', `${name} ${v}: give a number such as 0.00784 or -1`);
        return n;
      };
      const scale = num(flags.inputScale, '--input-scale');
      const offset = num(flags.inputOffset, '--input-offset');
      const { onnx, card } = await importModel(file, {
        labelsPath: flags.labels, emit: flags.emit as 'qdq' | 'qlinear' | 'float' | undefined,
        ...(scale !== undefined ? { scale } : {}), ...(offset !== undefined ? { offset } : {}),
      });
      const name = basename(file, extname(file));
      const outDir = resolve(flags.out);
      const modelPath = join(outDir, `${name}.onnx`);
      const cardPath = join(outDir, `${name}.card.json`);
      if (resolve(file) === modelPath) throw new EdgefitError('E_FLAGS', `${file} would be overwritten by its own import; pass --out with another directory`);
      // model first, card last: a card on disk always describes a complete model beside it
      await writeFileAtomic(modelPath, onnx);
      await writeFileAtomic(cardPath, JSON.stringify(card, null, 2) + '\n');
      const res = card.anyResolution ? `any resolution (native ${card.resolution})` : `${card.resolution}x${card.resolution}`;
      process.stdout.write(`${modelPath}\n${cardPath}\n${card.classes} classes, ${card.precision}, input uint8 NHWC ${res}${card.quantization ? `, ${card.quantization}` : ''}\n`);
    });
}
