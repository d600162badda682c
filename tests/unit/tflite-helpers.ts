import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import sharp from 'sharp';
import { loadImageRgb, decodeRgb } from '../../src/image/load.js';

export const IMAGENET_MODELS = [
  'mobilenet_v1_0.25_128_quant.tflite',
  'mobilenet_v1_0.5_160_quant.tflite',
  'mobilenet_v1_0.75_192_quant.tflite',
  'mobilenet_v2_1.0_224_quant.tflite',
  'tf2_mobilenet_v2_1.0_224_ptq.tflite',
];
export const tflitePath = (name: string) => join(sharedData, 'models/tflite', name);
export const imagePath = (name: string) => join(sharedData, 'images/test', name);
export const imagenetLabels = join(sharedData, 'labels/imagenet_labels_1001_coral.txt');

export interface PhotoLabel { accept: string[]; kind: 'clean' | 'proxy' | 'none' }
export const photoLabels: Record<string, PhotoLabel> = JSON.parse(readFileSync(join(sharedData, 'images/test/labels.json'), 'utf8'));
/** reference[model][photo] = top-5 [index, label, uint8 score] from Arm NN */
export const armnn: Record<string, Record<string, [number, string, number][]>> = JSON.parse(readFileSync(join(sharedData, 'reference/armnn_tflite_top5.json'), 'utf8'));

/** "tabby, tabby cat" -> "tabby": photos are matched by the first comma-separated name */
export const firstName = (label: string) => label.split(',')[0]!.trim();

const pixelCache = new Map<string, Uint8Array>();
export async function pixels(photo: string, size: number): Promise<Uint8Array> {
  const key = `${photo}@${size}`;
  let p = pixelCache.get(key);
  if (!p) pixelCache.set(key, (p = await loadImageRgb(imagePath(photo), size)));
  return p;
}

/** Raw output values (uint8/int8 as numbers, or float) of an imported model on one photo. */
export async function runRaw(session: ort.InferenceSession, photo: string, size: number): Promise<number[]> {
  const out = await session.run({ input: new ort.Tensor('uint8', await pixels(photo, size), [1, size, size, 3]) });
  return Array.from(out[session.outputNames[0]!]!.data as ArrayLike<number>);
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/** The same centre crop resized with another resampling kernel (the Arm NN reference used its own bicubic). */
export async function pixelsWithKernel(photo: string, size: number, kernel: 'cubic' | 'mitchell' | 'lanczos3' | 'linear'): Promise<Uint8Array> {
  const { data, width, height } = await decodeRgb(imagePath(photo));
  const side = Math.min(width, height);
  const out = await sharp(data, { raw: { width, height, channels: 3 } })
    .extract({ left: Math.floor((width - side) / 2), top: Math.floor((height - side) / 2), width: side, height: side })
    .resize(size, size, { kernel })
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
