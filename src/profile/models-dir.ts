import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Variant } from '../catalog/types.js';
import type { ModelCard } from '../importers/types.js';
import { modelCost } from '../catalog/cost.js';
import { EdgefitError } from '../util/errors.js';
import { refuseExternalData } from '../onnx/external-data.js';

/** A card beside a model may carry costs and a published accuracy the importer could not know. */
export interface CardWithCosts extends ModelCard {
  id?: string;
  macs?: number;
  params?: number;
  referenceAccuracy?: number;
}

/**
 * Variants from a directory of `<name>.onnx` files with `<name>.card.json` beside them (for `--models DIR`,
 * models the catalog does not list). MACs come from the card, else from the zoo's cost accounting for the card's
 * family/alpha/resolution, else 0 (unknown).
 */
export async function variantsFromModelsDir(dir: string): Promise<Variant[]> {
  const root = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(root)).filter((n) => n.endsWith('.onnx')).sort();
  } catch (err) {
    throw new EdgefitError('E_MODELS_DIR', `cannot read the models directory ${root}: ${(err as Error).message}`, { cause: err });
  }
  if (names.length === 0) throw new EdgefitError('E_MODELS_DIR', `${root} holds no .onnx files; give a directory of <name>.onnx with <name>.card.json beside them`);
  const out: Variant[] = [];
  for (const name of names) {
    const stem = basename(name, '.onnx');
    const cardPath = join(root, `${stem}.card.json`);
    let card: CardWithCosts;
    try {
      card = JSON.parse(await readFile(cardPath, 'utf8')) as CardWithCosts;
    } catch (err) {
      throw new EdgefitError('E_MODELS_CARD', `${cardPath} is missing or not JSON (${(err as Error).message}); every model needs a card (edgefit import writes one)`, { cause: err });
    }
    const bad = (what: string) => new EdgefitError('E_MODELS_CARD', `${cardPath}: ${what}`);
    if (!card || typeof card !== 'object') throw bad('not an object');
    if (card.precision !== 'int8' && card.precision !== 'fp32') throw bad(`precision must be "int8" or "fp32" (got ${String(card.precision)})`);
    if (!card.input || (card.input.layout !== 'NHWC' && card.input.layout !== 'NCHW')) throw bad('input.layout must be NHWC or NCHW');
    if (!(Number.isInteger(card.resolution) && card.resolution! > 0)) throw bad('resolution must be a whole number of pixels');
    for (const k of ['macs', 'params'] as const) {
      if (card[k] !== undefined && !(Number.isFinite(card[k]) && card[k]! >= 0)) throw bad(`${k} must be a number >= 0`);
    }
    if (card.referenceAccuracy !== undefined && !(card.referenceAccuracy >= 0 && card.referenceAccuracy <= 1)) throw bad('referenceAccuracy is a fraction in [0, 1]');
    const modelPath = join(root, name);
    const bytes = await readFile(modelPath);
    // these files go to onnxruntime by path, which would follow an external-data location
    refuseExternalData(bytes, modelPath);
    const family = card.family ?? 'mobilenet_v1';
    const alpha = card.alpha ?? 1;
    let macs = card.macs, params = card.params;
    if (macs === undefined || params === undefined) {
      const cost = card.family ? await modelCost(card.family, alpha, card.resolution!, card.classes, modelPath) : undefined;
      macs ??= cost?.macs ?? 0;
      params ??= cost?.params ?? 0;
    }
    out.push({
      id: card.id ?? stem,
      family,
      alpha,
      resolution: card.resolution!,
      precision: card.precision,
      ...(card.referenceAccuracy !== undefined ? { referenceAccuracy: card.referenceAccuracy } : {}),
      macs,
      params,
      modelPath,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      pretrained: card.source?.format !== 'zoo',
      input: card.input,
      source: card.source ? `${card.source.format}:${card.source.sha256}` : 'models-dir',
    });
  }
  return out;
}
