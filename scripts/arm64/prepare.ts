/**
 * Host step of the arm64 parity job (x64): converts the pretrained int8 models with edgefit's importer, builds the
 * fp32 zoo model, decodes the test photos into raw frames, and writes a manifest for the emulated runs. Doing
 * this on the host keeps sharp (whose native module is per-platform) out of the arm64 run: what is under test
 * there is the runtime's arithmetic on identical bytes.
 * usage: node dist/scripts/arm64/prepare.js --work DIR
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importModel } from '../../src/importers/index.js';
import { padNarrowChannels } from '../../src/catalog/pad-channels.js';
import { stemSpaceToDepth } from '../../src/catalog/stem-s2d.js';
import type { TfliteImportOptions } from '../../src/importers/tflite/import-tflite.js';
import { loadImageRgb } from '../../src/image/load.js';
import { buildGraph } from '../../src/zoo/registry.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { onnx } from '../../src/onnx/proto.js';
import { sharedData } from '../../src/util/paths.js';
import { findQConvs } from './intref.js';
import { MANIFEST, type FrameEntry, type Manifest, type ModelEntry } from './manifest.js';

/** The int8 models under test: the smallest v1 (cheap) and one v2 (residual adds; the QAT one: the PTQ one with per-channel weights runs ~50x slower under emulation). */
export const INT8_MODELS = ['mobilenet_v1_0.25_128_quant.tflite', 'mobilenet_v2_1.0_224_quant.tflite'];
/**
 * The int8 weight forms a device may pick after the pull (src/catalog/weight-form.ts), of the smallest model: the
 * u8s8 kernels they run are the fast arm64 ones (dot product on the A76), checked against the same integer
 * reference. Ids get the form as a suffix.
 */
export const INT8_FORMS: Array<{ file: string; suffix: string; opts: Pick<TfliteImportOptions, 'weightForm' | 'requantScope'>; widen?: boolean }> = [
  { file: 'mobilenet_v1_0.25_128_quant.tflite', suffix: '-s8-exact', opts: { weightForm: 's8-exact' } },
  { file: 'mobilenet_v1_0.25_128_quant.tflite', suffix: '-s8-requant', opts: { weightForm: 's8-requant', requantScope: 'all' } },
  // the form the x64 bench devices pick: narrow convs widened to 16 channels (the symmetric depthwise kernels want
  // a multiple of 16 on x64, 8 on arm64) and the stem reading 4 adjacent pixels as 12 channels (a 3x2 kernel,
  // strides 2,1), with nearest rounding: adaptive rounding changes only the integers, and it follows the host's
  // float results, which a golden must not
  { file: 'mobilenet_v1_0.25_128_quant.tflite', suffix: '-s8-requant-pad16-s2d', opts: { weightForm: 's8-requant', requantScope: 'all' }, widen: true },
];
export const PHOTOS = ['cat.bmp', 'grace_hopper.bmp', 'parrot.jpg', 'hot_dog.jpg'];
/**
 * The photo whose conv tensors are captured and recomputed in integers (one frame: the reference costs ~20 s of
 * host time per MobileNet-v2 frame). It is the one where x64 and arm64 final outputs differ, so the taps show
 * whether the convs or the float ops after them (residual Add, GlobalAveragePool, Softmax) account for it.
 */
export const TAPS_PHOTO = 'grace_hopper.bmp';
export const ZOO = { family: 'mobilenet_v1', alpha: 0.25, resolution: 128, classes: 1000, seed: 7 } as const;

/** The device forms' two integer-preserving rewrites (src/catalog/pad-channels.ts, stem-s2d.ts), both required. */
function widenForm(bytes: Uint8Array, res: number, id: string): Uint8Array {
  const padded = padNarrowChannels(bytes)?.onnx;
  const s2d = padded && stemSpaceToDepth(padded, res);
  if (!s2d) throw new Error(`arm64 parity: ${id}: ${padded ? 'the stem' : 'no narrow conv'} could not be rewritten; the form under test would not be the one devices pick`);
  return s2d;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A deterministic frame with edges and gradients in every channel (no file, no decoder involved). */
export function fixedFrame(size: number): Uint8Array {
  const f = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      f[i] = (x * 255) / (size - 1);
      f[i + 1] = (y * 255) / (size - 1);
      f[i + 2] = ((x >> 3) + (y >> 3)) % 2 === 0 ? 230 : 25;
    }
  }
  return f;
}

/** The model with every quantized conv input and output added as graph outputs (the final output stays first). */
export function tapModel(bytes: Uint8Array, source: string): { bytes: Uint8Array; taps: string[] } {
  const model = readOnnx(bytes, source);
  const g = model.graph!;
  const { convs } = findQConvs(model);
  const inputs = new Set((g.input ?? []).map((i) => i.name));
  g.output = g.output ?? [];
  const have = new Set(g.output.map((o) => o.name));
  const taps: string[] = [];
  for (const c of convs) {
    for (const [name, unsigned] of [[c.xName, c.xUnsigned], [c.yName, c.yUnsigned]] as const) {
      if (inputs.has(name) || have.has(name)) continue;
      have.add(name);
      taps.push(name);
      // quantized activations are uint8 (2) unless their zero point says int8
      // no shape: symbolic names would claim equal sizes across taps
      g.output.push({ name, type: { tensorType: { elemType: unsigned ? 2 : 3 } } });
    }
  }
  return { bytes: onnx.ModelProto.encode(model).finish(), taps };
}

export async function prepare(work: string): Promise<Manifest> {
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, 'frames'), { recursive: true });
  const models: ModelEntry[] = [];
  const labelsPath = join(sharedData, 'labels', 'imagenet_labels_1001_coral.txt');
  for (const { file, suffix, opts, widen } of [...INT8_MODELS.map((file) => ({ file, suffix: '', opts: {}, widen: false })), ...INT8_FORMS]) {
    const src = join(sharedData, 'models', 'tflite', file);
    const srcBytes = await readFile(src).catch((err: Error) => {
      throw new Error(`arm64 parity: cannot read ${src} (${err.message}); set EDGEFIT_SHARED_DATA to the shared data directory`);
    });
    const { onnx: imported, card } = await importModel(src, { labelsPath, ...opts });
    const id = file.replace(/\.tflite$/, '') + suffix;
    const res = card.resolution;
    if (!res) throw new Error(`arm64 parity: ${file} imported without a native resolution`);
    const bytes = widen ? widenForm(imported, res, id) : imported;
    await writeFile(join(work, `${id}.onnx`), bytes);
    const taps = tapModel(bytes, file);
    await writeFile(join(work, `${id}.taps.onnx`), taps.bytes);
    const frames: FrameEntry[] = [];
    for (const photo of PHOTOS) {
      const px = await loadImageRgb(join(sharedData, 'images', 'test', photo), res);
      const rel = join('frames', `${id}--${photo}.rgb`);
      await writeFile(join(work, rel), px);
      frames.push({ name: photo, file: rel, pixelsSha256: sha256(px) });
    }
    models.push({
      id, precision: 'int8', file: `${id}.onnx`, onnxSha256: sha256(bytes), source: `tflite:${sha256(srcBytes)}`,
      resolution: res, frames, tapsFile: `${id}.taps.onnx`, tapsFrame: TAPS_PHOTO,
    });
  }
  const g = buildGraph({ family: ZOO.family, alpha: ZOO.alpha, resolution: ZOO.resolution, classes: ZOO.classes, seed: ZOO.seed, options: { softmax: true } });
  const zooBytes = emitOnnx(g, { input: 'uint8-nhwc' });
  const zooId = `zoo-${ZOO.family}-${ZOO.alpha}-${ZOO.resolution}-seed${ZOO.seed}-fp32`;
  await writeFile(join(work, `${zooId}.onnx`), zooBytes);
  const frame = fixedFrame(ZOO.resolution);
  await writeFile(join(work, 'frames', `${zooId}--fixed.rgb`), frame);
  models.push({
    id: zooId, precision: 'fp32', file: `${zooId}.onnx`, onnxSha256: sha256(zooBytes), source: `zoo:${JSON.stringify(ZOO)}`,
    resolution: ZOO.resolution, frames: [{ name: 'fixed', file: join('frames', `${zooId}--fixed.rgb`), pixelsSha256: sha256(frame) }],
  });
  const manifest: Manifest = { created: new Date().toISOString(), sharedData, models };
  await writeFile(join(work, MANIFEST), JSON.stringify(manifest, null, 1));
  return manifest;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const work = arg('--work');
  if (!work) {
    process.stderr.write('usage: prepare.js --work DIR\n');
    process.exit(2);
  }
  const t0 = performance.now();
  const m = await prepare(work);
  process.stdout.write(`arm64 parity: prepared ${m.models.length} models in ${((performance.now() - t0) / 1000).toFixed(1)} s (${work})\n`);
}
