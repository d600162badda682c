import { readFile } from 'node:fs/promises';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Config } from '../config/types.js';
import type { Catalog, CatalogFile, CatalogLabels, CatalogModel } from './catalog.js';
import { loadConfiguredCatalog } from './signature.js';
import { parseMirror, obtainVerified, describeMirror, type FetchLimits } from './fetch.js';
import { downloadPath, sha256File, sha256Hex } from './store.js';
import { convertIsolated } from './convert-isolated.js';
import { deviceWeightFormIsolated } from './weight-form-isolated.js';
import { join } from 'node:path';

export interface PullOptions {
  /** overrides config.models.mirror: an http(s) URL or a directory */
  mirror?: string;
  /** model ids to pull (their labels come along); default all */
  only?: string[];
  /** download and verify again even when a good copy is on disk (the good copy stays if the new one is bad) */
  force?: boolean;
  /** convert pulled models to ONNX (default true) */
  convert?: boolean;
  /**
   * after converting an int8 TFLite model, decide by measurement on this device which weight form it runs
   * (src/catalog/weight-form.ts; cached per file, CPU and runtime). `edgefit models pull` does; default false.
   */
  deviceForms?: boolean;
  catalog?: Catalog;
  log?: (line: string) => void;
}

export type PullStatus = 'downloaded' | 'present' | 'failed';
export type ConvertStatus = 'converted' | 'cached' | 'failed' | 'unavailable';

export interface PullItem {
  id: string;
  kind: 'model' | 'labels';
  /** where the verified file is (also when this pull failed but an earlier good copy remains) */
  path: string;
  status: PullStatus;
  /** true when a verified file is on disk after the pull */
  usable: boolean;
  from?: string;
  error?: string;
  convert?: ConvertStatus;
  convertError?: string;
  onnxPath?: string;
  /** quantized TFLite sources also get a dequantized fp32 conversion (not required for `ok`) */
  convertFloat?: ConvertStatus;
  convertFloatError?: string;
  /** the weight form this device runs (deviceForms), and why */
  weightForm?: string;
  weightFormError?: string;
}

export interface PullReport {
  stateDir: string;
  mirror?: string;
  items: PullItem[];
  /** no transfer failed and every requested file is usable (and converted, when conversion was asked) */
  ok: boolean;
}

/** A quantized TFLite model can also be converted dequantized to fp32 (faster on some GPUs, a reference elsewhere). */
export function hasFloatVariant(m: CatalogModel): boolean {
  return m.format === 'tflite' && m.precision === 'int8';
}

/** Is the file at path exactly the catalog's bytes? */
async function isGood(path: string, entry: CatalogFile): Promise<boolean> {
  return (await sha256File(path)) === entry.sha256;
}

/**
 * Downloads (or copies from a mirror) the catalog's files into <stateDir>/models/download/, verifying each
 * sha256 before it is written; writes are atomic, so a failed or corrupt transfer never replaces a good file.
 * Then converts each model once to ONNX (cached by the source sha256).
 */
export async function pullModels(config: Config, opts: PullOptions = {}): Promise<PullReport> {
  const log = opts.log ?? (() => undefined);
  const catalog = opts.catalog ?? await loadConfiguredCatalog(config);
  const mirrorText = opts.mirror ?? config.models.mirror;
  const mirror = mirrorText ? parseMirror(mirrorText) : undefined;
  const limits: FetchLimits = { maxBytes: Math.round(config.models.maxDownloadMb * 1024 * 1024), timeoutMs: config.models.downloadTimeoutSeconds * 1000 };
  const stateDir = config.stateDir;

  let models: CatalogModel[] = catalog.models;
  if (opts.only && opts.only.length > 0) {
    const known = new Set(catalog.models.map((m) => m.id));
    const unknown = opts.only.filter((id) => !known.has(id));
    if (unknown.length) throw new EdgefitError('E_CATALOG', `unknown model id ${unknown.join(', ')}: use one of ${[...known].join(', ')}`);
    models = catalog.models.filter((m) => opts.only!.includes(m.id));
  }
  // every destination is checked before the first byte is written
  for (const e of [...catalog.labels, ...models]) downloadPath(stateDir, e.file);

  const labelsById = new Map(catalog.labels.map((l) => [l.id, l]));
  const wanted = new Set<string>();
  const want = (id: string): void => {
    const l = labelsById.get(id);
    if (!l || wanted.has(id)) return;
    if (l.derive) want(l.derive.from);
    wanted.add(id);
  };
  for (const m of models) want(m.labels);

  const items: PullItem[] = [];
  const labelItems = new Map<string, PullItem>();
  for (const id of wanted) {
    const item = await pullLabels(labelsById.get(id)!, stateDir, mirror, limits, labelItems, opts.force ?? false);
    log(line(item));
    labelItems.set(id, item);
    items.push(item);
  }
  for (const m of models) {
    const item = await pullFile(m, 'model', stateDir, mirror, limits, opts.force ?? false);
    if (item.usable && opts.convert !== false) {
      const lab = labelItems.get(m.labels);
      // in a child process: a file that crashes the converter is quarantined (and no longer usable)
      try {
        const c = await convertIsolated(stateDir, item.path, m.sha256, lab?.usable ? lab.path : undefined);
        item.convert = c.cached ? 'cached' : 'converted';
        item.onnxPath = c.onnxPath;
      } catch (err) {
        const code = (err as EdgefitError).code;
        item.convert = code === 'E_NO_IMPORTER' ? 'unavailable' : 'failed';
        item.convertError = errorMessage(err);
        if (code === 'E_CONVERT_CRASHED') item.usable = false;
      }
      if (opts.deviceForms && m.format === 'tflite' && m.precision === 'int8' && item.onnxPath && item.usable) {
        try {
          const framesDir = config.profile.probeDir || join(stateDir, 'probe-frames');
          const f = await deviceWeightFormIsolated({ stateDir, sourcePath: item.path, sourceSha256: m.sha256, ...(lab?.usable ? { labelsPath: lab.path } : {}), framesDir });
          item.weightForm = `${f.card.weights!.form}${f.cached ? ' (cached)' : ''}: ${f.card.weights!.reason}`;
        } catch (err) {
          item.weightFormError = errorMessage(err);
        }
      }
      if (hasFloatVariant(m) && item.convert !== 'unavailable' && item.usable) {
        try {
          const c = await convertIsolated(stateDir, item.path, m.sha256, lab?.usable ? lab.path : undefined, 'float');
          item.convertFloat = c.cached ? 'cached' : 'converted';
        } catch (err) {
          item.convertFloat = 'failed';
          item.convertFloatError = errorMessage(err);
        }
      }
    }
    log(line(item));
    items.push(item);
  }
  const ok = items.every((i) => i.usable && i.status !== 'failed' && (i.convert === undefined || i.convert === 'converted' || i.convert === 'cached'));
  return { stateDir, ...(mirror ? { mirror: describeMirror(mirror) } : {}), items, ok };
}

async function pullFile(entry: CatalogFile, kind: 'model' | 'labels', stateDir: string, mirror: ReturnType<typeof parseMirror> | undefined, limits: FetchLimits, force: boolean): Promise<PullItem> {
  const path = downloadPath(stateDir, entry.file);
  const good = await isGood(path, entry);
  if (good && !force) return { id: entry.id, kind, path, status: 'present', usable: true };
  try {
    const got = await obtainVerified(entry, mirror, limits);
    await writeFileAtomic(path, got.bytes);
    return { id: entry.id, kind, path, status: 'downloaded', usable: true, from: got.from };
  } catch (err) {
    return { id: entry.id, kind, path, status: 'failed', usable: good, error: errorMessage(err) };
  }
}

async function pullLabels(entry: CatalogLabels, stateDir: string, mirror: ReturnType<typeof parseMirror> | undefined, limits: FetchLimits, done: Map<string, PullItem>, force: boolean): Promise<PullItem> {
  const hasRemote = mirror !== undefined || entry.urls.length > 0;
  const item = hasRemote ? await pullFile(entry, 'labels', stateDir, mirror, limits, force) : undefined;
  if (item?.usable) return item;
  const path = downloadPath(stateDir, entry.file);
  // labels small enough to live in the catalog, or derivable from another labels file, need no transfer
  let local: Uint8Array | undefined;
  if (entry.text !== undefined) local = Buffer.from(entry.text, 'utf8');
  else if (entry.derive) {
    const src = done.get(entry.derive.from);
    if (src?.usable) {
      const lines = (await readFile(src.path, 'utf8')).split('\n');
      local = Buffer.from(lines.slice(entry.derive.dropFirstLines).join('\n'), 'utf8');
    }
  }
  if (local && sha256Hex(local) === entry.sha256) {
    if (!(await isGood(path, entry))) await writeFileAtomic(path, local);
    return { id: entry.id, kind: 'labels', path, status: 'downloaded', usable: true, from: entry.text !== undefined ? 'catalog text' : `derived from ${entry.derive!.from}` };
  }
  if (item) return item;
  const good = await isGood(path, entry);
  return { id: entry.id, kind: 'labels', path, status: good ? 'present' : 'failed', usable: good, ...(good ? {} : { error: `${entry.id}: no upstream URL is known for ${entry.file}; pull with --mirror URL|DIR` }) };
}

function line(i: PullItem): string {
  const head = `${i.kind === 'model' ? 'model ' : 'labels'} ${i.id}: ${i.status}`;
  const from = i.from ? ` from ${i.from}` : '';
  const err = i.error ? ` — ${i.error}${i.usable ? ' (the earlier verified copy is kept)' : ''}` : '';
  const conv = (i.convert ? `; onnx ${i.convert}${i.convertError ? ` — ${i.convertError}` : ''}` : '')
    + (i.convertFloat ? `; fp32 onnx ${i.convertFloat}${i.convertFloatError ? ` — ${i.convertFloatError}` : ''}` : '')
    + (i.weightForm ? `; weights ${i.weightForm}` : i.weightFormError ? `; weights u8 (${i.weightFormError})` : '');
  return head + from + err + conv;
}

export { line as describePullItem };
