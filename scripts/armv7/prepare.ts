/**
 * Host step of the armv7 job (x64): imports the TFLite MobileNets with edgefit's importer and decodes the test
 * photos into raw frames (centre crop, as the folder camera feeds them), so that the emulated 32-bit run needs
 * neither sharp (libvips) nor onnxruntime: what is under test there is the TensorFlow.js engine on identical bytes.
 * usage: node dist/scripts/armv7/prepare.js --work DIR
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importModel } from '../../src/importers/index.js';
import { loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';

/** A quick subset: the two smallest v1 MobileNets (emulated 32-bit ARM runs them ~20x slower than the host). */
export const MODELS = [
  { id: 'mobilenet_v1_0.25_128', file: 'mobilenet_v1_0.25_128_quant.tflite', resolution: 128 },
  { id: 'mobilenet_v1_0.5_160', file: 'mobilenet_v1_0.5_160_quant.tflite', resolution: 160 },
];
export const PHOTOS = ['bird.bmp', 'cat.bmp', 'dragonfly.bmp', 'grace_hopper.bmp', 'hot_dog.jpg', 'owl.jpg', 'parrot.jpg', 'pets.jpg', 'sunflower.bmp', 'kite_and_cold.jpg'];

export interface ArmManifest {
  models: { id: string; onnx: string; resolution: number }[];
  /** raw uint8 RGB HWC frames, one file per (photo, resolution) */
  frames: { photo: string; resolution: number; path: string }[];
}

export async function prepare(work: string): Promise<ArmManifest> {
  await mkdir(work, { recursive: true });
  const manifest: ArmManifest = { models: [], frames: [] };
  for (const m of MODELS) {
    const { onnx } = await importModel(join(sharedData, 'models/tflite', m.file));
    const path = join(work, `${m.id}.onnx`);
    await writeFile(path, onnx);
    manifest.models.push({ id: m.id, onnx: path, resolution: m.resolution });
    for (const photo of PHOTOS) {
      const frame = join(work, `${photo}.${m.resolution}.rgb`);
      await writeFile(frame, await loadImageRgb(join(sharedData, 'images/test', photo), m.resolution));
      manifest.frames.push({ photo, resolution: m.resolution, path: frame });
    }
  }
  await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

const arg = (name: string): string | undefined => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
if (process.argv[1]?.endsWith('prepare.js')) {
  const work = arg('--work');
  if (!work) { console.error('usage: prepare.js --work DIR'); process.exit(2); }
  await prepare(work);
}
