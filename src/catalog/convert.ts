import { readFile, stat } from 'node:fs/promises';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { ImportResult, ModelCard } from '../importers/types.js';
import { convertedPaths, sha256File, sha256Hex, type ConvertMode } from './store.js';

type ImportModel = typeof import('../importers/index.js').importModel;

let importer: Promise<ImportModel | undefined> | undefined;

/**
 * The importer dispatcher (src/importers/index.ts), loaded on first use so the catalog builds and pulls without
 * it. Undefined when it is not there.
 */
export function loadImporter(): Promise<ImportModel | undefined> {
  importer ??= (async () => {
    try {
      // loaded on first use: the importers bring protobufjs and flatbuffers, which a pull of converted files never needs
      return (await import('../importers/index.js')).importModel;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && errorMessage(err).includes('importers')) return undefined;
      throw err;
    }
  })();
  return importer;
}

export interface Converted {
  onnxPath: string;
  cardPath: string;
  card: ModelCard;
  /** sha256 of the .onnx, checked against the one recorded at conversion */
  onnxSha256: string;
  /** true when an earlier conversion was reused */
  cached: boolean;
}

function cardFits(card: ModelCard, sourceSha256: string, labelsPath: string | undefined): boolean {
  // a card converted before the labels were available is redone once they are
  return card.source?.sha256 === sourceSha256 && (labelsPath === undefined || Array.isArray(card.labels));
}

/**
 * The cached conversion of a source file, if complete and intact: the .onnx must still hash to the sum
 * recorded beside it when it was written (an SD card that flipped a bit means a reconversion, not a crash later).
 */
export async function readConverted(stateDir: string, sourceSha256: string, labelsPath?: string, mode: ConvertMode = 'native'): Promise<Converted | undefined> {
  const p = convertedPaths(stateDir, sourceSha256, mode);
  try {
    const card = JSON.parse(await readFile(p.card, 'utf8')) as ModelCard;
    if (!cardFits(card, sourceSha256, labelsPath)) return undefined;
    if (!(await stat(p.onnx)).isFile()) return undefined;
    const recorded = (await readFile(`${p.onnx}.sha256`, 'utf8')).trim();
    const actual = await sha256File(p.onnx);
    if (actual !== recorded) return undefined;
    return { onnxPath: p.onnx, cardPath: p.card, card, onnxSha256: actual, cached: true };
  } catch {
    return undefined;
  }
}

/**
 * Converts a verified source file to ONNX once; later calls reuse <sha256>.onnx and <sha256>.card.json.
 * The .onnx and its sum are written before the card, so a card on disk always has its model beside it.
 */
export async function convertOnce(stateDir: string, sourcePath: string, sourceSha256: string, labelsPath?: string, mode: ConvertMode = 'native'): Promise<Converted> {
  const cached = await readConverted(stateDir, sourceSha256, labelsPath, mode);
  if (cached) return cached;
  const importModel = await loadImporter();
  if (!importModel) throw new EdgefitError('E_NO_IMPORTER', 'the model importers (src/importers/index.ts) are not available in this build; the download is kept and will be converted once they are');
  let result: ImportResult;
  try {
    result = await importModel(sourcePath, { ...(labelsPath ? { labelsPath } : {}), ...(mode === 'float' ? { emit: 'float' as const } : {}) });
  } catch (err) {
    throw new EdgefitError('E_CONVERT', `converting ${sourcePath} failed: ${errorMessage(err)}`, { cause: err });
  }
  const card: ModelCard = { ...result.card, source: { ...result.card.source, sha256: sourceSha256 } };
  const p = convertedPaths(stateDir, sourceSha256, mode);
  const onnxSha256 = sha256Hex(result.onnx);
  await writeFileAtomic(p.onnx, result.onnx);
  await writeFileAtomic(`${p.onnx}.sha256`, onnxSha256 + '\n');
  await writeFileAtomic(p.card, JSON.stringify(card, null, 2) + '\n');
  return { onnxPath: p.onnx, cardPath: p.card, card, onnxSha256, cached: false };
}
