import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, type EdgefitError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Config } from '../config/types.js';
import type { Variant } from './types.js';
import { buildGraph, variantId, zooFallback as zooFallbackRungs } from '../zoo/registry.js';
import type { Catalog, CatalogModel } from './catalog.js';
import { loadConfiguredCatalog } from './signature.js';
import { downloadPath, modelsDir, sha256File, type ConvertMode } from './store.js';
import { hasFloatVariant } from './pull.js';
import { readConverted } from './convert.js';
import { readDeviceForm } from './weight-form.js';
import { convertIsolated, type IsolatedConvertOptions } from './convert-isolated.js';
import { quarantined } from './quarantine.js';
import { modelCost } from './cost.js';
import { estimateAtResolution, publishedTop1, SOURCES } from './published-accuracy.js';
import { catalogTaskOf } from '../config/task.js';
import { publishedCocoMap, DETECTION_SOURCES } from './detection-accuracy.js';
import { detectorCost } from './detector-cost.js';

export interface LadderOptions {
  catalog?: Catalog;
  log?: (line: string) => void;
  /** what must not go unnoticed (a model file quarantined); default `log` */
  alarm?: (line: string) => void;
  /** limits of the conversion child (tests) */
  convert?: IsolatedConvertOptions;
  /** zoo fallback ladder (default: MobileNet-v1 at alpha 0.25, 0.5, 0.75, 1.0) */
  zooAlphas?: number[];
  /** zoo fallback resolutions (default 128, 160, 192, 224) */
  zooResolutions?: number[];
}

/**
 * Resolutions a model runs at: its native one and, for models that accept any input size (global average
 * pooling), the next two smaller multiples of 32, not below 96.
 */
export function ladderResolutions(native: number, anyResolution: boolean): number[] {
  const out = [native];
  if (!anyResolution) return out;
  let r = Math.floor((native - 1) / 32) * 32;
  while (out.length < 3 && r >= 96) { out.push(r); r -= 32; }
  return out;
}

/** The smaller rungs a detector runs at (the SSD anchors are regenerated for them): common SSD input sizes. */
export const DETECTOR_RUNGS: readonly number[] = [256, 224];

/**
 * Resolutions a detector runs at: its native one and, when its graph accepts any size and its anchors can be
 * regenerated (card.detection.anchorGenerator), the smaller DETECTOR_RUNGS.
 */
export function detectorResolutions(native: number, anyResolution: boolean, hasAnchorGenerator: boolean): number[] {
  return anyResolution && hasAnchorGenerator ? [native, ...DETECTOR_RUNGS.filter((r) => r < native)] : [native];
}

function fmtAlpha(a: number): string {
  return Number.isInteger(a) ? a.toFixed(1) : String(a);
}

/**
 * A pulled, verified and converted catalog model, or undefined (with the reason logged). Conversion runs in a
 * child process: a file that crashes the converter is quarantined, not crashed into at every start.
 */
async function available(config: Config, m: CatalogModel, catalog: Catalog, mode: ConvertMode, log: (l: string) => void, alarm: (l: string) => void, opts: LadderOptions) {
  const src = downloadPath(config.stateDir, m.file);
  const labels = catalog.labels.find((l) => l.id === m.labels);
  let labelsPath: string | undefined;
  if (labels) {
    const p = downloadPath(config.stateDir, labels.file);
    if ((await sha256File(p)) === labels.sha256) labelsPath = p;
  }
  // the weight form this device measured fastest among the faithful ones (`models pull`), when decided
  const device = mode === 'native' && m.format === 'tflite' ? await readDeviceForm(config.stateDir, m.sha256, labelsPath) : undefined;
  if (device) return { ...device, labelsPath };
  const cached = await readConverted(config.stateDir, m.sha256, labelsPath, mode);
  if (cached) return { ...cached, labelsPath };
  // not converted yet: only a file that still verifies is converted (never trust what is on disk)
  const sha = await sha256File(src);
  if (sha === undefined) {
    const q = mode === 'native' ? await quarantined(config.stateDir, m.sha256, src) : undefined;
    if (q) log(`${m.id}: not used: quarantined since ${q.at} (${q.reason}); delete ${q.file} and run \`edgefit models pull\` to try again`);
    return undefined;
  }
  if (sha !== m.sha256) { log(`${m.id}: ${src} does not match the catalog sha256; ignored (run \`edgefit models pull --force\`)`); return undefined; }
  try {
    return { ...(await convertIsolated(config.stateDir, src, m.sha256, labelsPath, mode, opts.convert)), labelsPath };
  } catch (err) {
    if ((err as EdgefitError).code === 'E_CONVERT_CRASHED') alarm(`${m.id}: ${errorMessage(err)}`);
    else log(`${m.id}: ${errorMessage(err)}`);
    return undefined;
  }
}

/**
 * The variants the selector climbs, for config.models.task: every pulled pretrained model at its native
 * resolution and (when it accepts any size) two smaller ones. With none on disk and models.allowZooFallback,
 * zoo-generated models with random weights (`pretrained: false`; see `ladderWarning`).
 */
export async function buildLadder(config: Config, opts: LadderOptions = {}): Promise<Variant[]> {
  const log = opts.log ?? (() => undefined);
  const alarm = opts.alarm ?? log;
  const catalog = opts.catalog ?? await loadConfiguredCatalog(config);
  const variants: Variant[] = [];
  const task = catalogTaskOf(config.models.task);
  const todo = catalog.models.filter((x) => x.task === task)
    .flatMap((m) => (hasFloatVariant(m) ? [[m, 'native'], [m, 'float']] as const : [[m, 'native']] as const));
  for (const [m, mode] of todo) {
    const got = await available(config, m, catalog, mode, log, alarm, opts);
    if (!got) continue;
    const baseId = mode === 'float' ? (m.id.includes('int8') ? m.id.replace('int8', 'fp32-deq') : `${m.id}-fp32-deq`) : m.id;
    const card = got.card;
    const sha = got.onnxSha256;
    const native = card.resolution ?? m.resolution;
    const nativeAcc = nativeAccuracy(m, native);
    const detector = m.task === 'detection';
    const resolutions = detector
      ? detectorResolutions(native, card.anyResolution, card.detection?.anchorGenerator !== undefined)
      : ladderResolutions(native, card.anyResolution);
    for (const res of resolutions) {
      // the zoo has no twin of a file's detector head: its cost is counted on the file's own graph
      const cost = detector ? await detectorCost(downloadPath(config.stateDir, m.file), m.sha256, res) : await modelCost(m.family, m.alpha, res, card.classes, got.onnxPath);
      variants.push({
        id: res === native ? baseId : `${baseId}@${res}`,
        family: m.family,
        alpha: m.alpha,
        resolution: res,
        nativeResolution: native,
        precision: card.precision,
        ...rungAccuracy(m, nativeAcc, native, res),
        macs: cost.macs,
        params: cost.params,
        modelPath: got.onnxPath,
        sha256: sha,
        ...(got.labelsPath ? { labelsPath: got.labelsPath } : {}),
        pretrained: true,
        input: card.input,
        source: `${card.source.format}:${m.sha256}${mode === 'float' ? ':dequantized' : ''}`,
        ...(card.task === 'detection' && card.detection ? { task: 'detection' as const, detection: card.detection } : {}),
      });
    }
  }
  // the zoo builds classifiers only: a detector's boxes cannot come from random weights
  if (variants.length === 0 && config.models.allowZooFallback && task !== 'detection') {
    log('no pretrained model is on disk: using zoo models with random weights');
    variants.push(...(await zooFallback(config, opts)));
  }
  return variants;
}

/**
 * The published top-1 of a catalog model at its native resolution: the catalog's own figure, else the model-zoo
 * table's for its family/alpha/resolution/precision (ImageNet models only: a person detector is another task).
 */
function nativeAccuracy(m: CatalogModel, native: number): { value: number; basis: string } | undefined {
  if (m.referenceAccuracy !== undefined) return { value: m.referenceAccuracy, basis: `published (catalog ${m.id})` };
  if (m.task === 'detection') {
    const d = m.head ? publishedCocoMap({ family: m.family, head: m.head, alpha: m.alpha, resolution: native, precision: m.precision }) : undefined;
    if (!d) return undefined;
    const src = DETECTION_SOURCES[d.source];
    return { value: d.map, basis: `published COCO mAP of ${d.model} (${'repository' in src ? `${src.repository}/${src.path}` : src.paper})` };
  }
  if (m.task !== 'imagenet') return undefined;
  const p = publishedTop1(m.family, m.alpha, native, m.precision);
  if (!p) return undefined;
  const src = SOURCES[p.source];
  return { value: p.top1, basis: `published (${src.repository}/${src.path})` };
}

/** Accuracy fields of one rung: published at the native resolution, estimated below it. */
function rungAccuracy(m: CatalogModel, nativeAcc: { value: number; basis: string } | undefined, native: number, res: number): Pick<Variant, 'referenceAccuracy' | 'estimatedAccuracy' | 'accuracyBasis'> {
  if (!nativeAcc) return {};
  if (res === native) return { referenceAccuracy: nativeAcc.value, accuracyBasis: nativeAcc.basis };
  // no published figure says what a detector loses below its trained size: the rung carries none
  if (m.task === 'detection') return {};
  // the catalog's precision, not this file's: a dequantized float copy runs the quantized model's weights
  const e = estimateAtResolution(m.family, m.alpha, m.precision, native, nativeAcc.value, res);
  return e ? { estimatedAccuracy: e.value, accuracyBasis: `estimated: ${e.basis}` } : {};
}

/**
 * Zoo models with seeded random weights, of the family whose spec declares the fallback rungs (src/zoo/families.ts),
 * one ONNX file per alpha (symbolic H/W), cached on disk.
 */
async function zooFallback(config: Config, opts: LadderOptions): Promise<Variant[]> {
  const fb = zooFallbackRungs();
  const family = fb.family;
  // (detection has no zoo fallback yet: seeded SSDLite weights would report random boxes)
  if (config.models.task === ('detection' as string)) return [];
  const classes = config.models.task === 'person' ? 2 : 1000;
  const out: Variant[] = [];
  for (const alpha of opts.zooAlphas ?? fb.alphas) {
    const resolutions = opts.zooResolutions ?? fb.resolutions;
    const fileId = variantId({ family, alpha, resolution: Math.max(...resolutions), classes });
    const path = join(modelsDir(config.stateDir), 'zoo', `${fileId}-dyn-seed0.onnx`);
    if (!existsSync(path)) {
      // the ONNX writer (protobufjs and onnx.proto's generated code, ~10 MB of RSS) only when a file is missing
      const { emitOnnx } = await import('../onnx/emit.js');
      const g = buildGraph({ family, alpha, resolution: Math.max(...resolutions), classes, seed: 0, options: { ...fb.options } });
      await writeFileAtomic(path, emitOnnx(g, { input: 'uint8-nhwc', dynamicResolution: true }));
    }
    const sha = (await sha256File(path))!;
    for (const res of resolutions) {
      const cost = await modelCost(family, alpha, res, classes, path);
      out.push({
        id: `zoo-${family}-${fmtAlpha(alpha)}-${res}-fp32`,
        family,
        alpha,
        resolution: res,
        precision: 'fp32',
        macs: cost.macs,
        params: cost.params,
        modelPath: path,
        sha256: sha,
        pretrained: false,
        input: { layout: 'NHWC', dtype: 'uint8' },
        source: 'zoo',
      });
    }
  }
  return out;
}

/**
 * What the daemon must say loudly when the ladder has no real weights; undefined when at least one variant
 * is pretrained.
 */
export function ladderWarning(variants: readonly Variant[]): string | undefined {
  if (variants.length === 0) return 'no model is available: run `edgefit models pull` (or `edgefit models pull --mirror URL|DIR` on a board without internet), or allow models.allowZooFallback';
  if (variants.some((v) => v.pretrained)) return undefined;
  return 'NO PRETRAINED MODEL: running zoo models with random weights, so the labels they report are MEANINGLESS (measurements are still real). Run `edgefit models pull` (or with --mirror URL|DIR) to fetch real weights.';
}
