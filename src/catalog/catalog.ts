import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { projectRoot } from '../util/paths.js';
import type { Precision } from './types.js';
import type { Family } from '../zoo/graph.js';

/** A file the catalog knows by checksum: where it sits relative to a mirror, and where upstream has it. */
export interface CatalogFile {
  id: string;
  /** relative path, '/'-separated, used below a mirror and below <stateDir>/models/download/ */
  file: string;
  sha256: string;
  /** bytes, when known: a download larger than this is refused early */
  size?: number;
  /** upstream locations, tried in order when no mirror is given */
  urls: string[];
  note?: string;
}

export interface CatalogLabels extends CatalogFile {
  /** made from another labels file by dropping its first lines (e.g. 'background') when no copy is reachable */
  derive?: { from: string; dropFirstLines: number };
  /** the exact content, for tiny label sets; still checked against sha256 */
  text?: string;
}

export type CatalogTask = 'imagenet' | 'person' | 'detection';
const TASKS: readonly CatalogTask[] = ['imagenet', 'person', 'detection'];
/** a detector's head, for its published COCO mAP (src/catalog/detection-accuracy.ts) */
export type CatalogHead = 'ssd' | 'ssdlite';

export interface CatalogModel extends CatalogFile {
  task: CatalogTask;
  family: Family;
  alpha: number;
  /** native input side */
  resolution: number;
  precision: Precision;
  format: 'tflite' | 'keras' | 'onnx';
  /** published ImageNet top-1 (0..1) at the native resolution; detectors: COCO mAP (0..1), else from the published table */
  referenceAccuracy?: number;
  /** detectors only (task 'detection'): the detection head on the backbone */
  head?: CatalogHead;
  /** id of an entry in `labels` */
  labels: string;
  licence: string;
}

export interface Catalog {
  /** where it was read from */
  path: string;
  labels: CatalogLabels[];
  models: CatalogModel[];
}

export const defaultCatalogPath: string = join(projectRoot, 'models', 'catalog.json');

const FAMILIES: readonly Family[] = ['mobilenet_v1', 'mobilenet_v2', 'shufflenet_v1', 'squeezenet', 'xception'];
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const ID = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * True for a relative '/'-separated path whose segments are plain names: no '..', no '.', no leading '/',
 * no backslash, no empty segment. Such a path stays below whatever directory it is joined to.
 */
export function isSafeRelativePath(p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 512) return false;
  const segs = p.split('/');
  return segs.every((s) => SEGMENT.test(s) && s !== '..' && s !== '.') && posix.normalize(p) === p;
}

class Problems {
  readonly list: string[] = [];
  constructor(private readonly where: string) {}
  add(at: string, msg: string): void { this.list.push(`${this.where}: ${at} ${msg}`); }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkFile(p: Problems, at: string, e: Record<string, unknown>, ids: Set<string>): void {
  if (typeof e.id !== 'string' || !ID.test(e.id)) p.add(`${at}.id`, `must be lower-case letters, digits, '.', '_', '-' (got ${JSON.stringify(e.id)})`);
  else if (ids.has(e.id)) p.add(`${at}.id`, `${JSON.stringify(e.id)} is used twice`);
  else ids.add(e.id);
  if (!isSafeRelativePath(e.file)) p.add(`${at}.file`, `must be a relative path of plain names separated by '/' (no '..', '.', leading '/', backslash or control characters) (got ${JSON.stringify(e.file)})`);
  if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256)) p.add(`${at}.sha256`, `must be 64 lower-case hex digits (got ${JSON.stringify(e.sha256)})`);
  if (e.size !== undefined && !(Number.isInteger(e.size) && (e.size as number) > 0)) p.add(`${at}.size`, `must be a positive integer (got ${JSON.stringify(e.size)})`);
  if (!Array.isArray(e.urls)) p.add(`${at}.urls`, 'must be a list of https:// URLs (may be empty)');
  else e.urls.forEach((u, i) => {
    let ok = false;
    try { ok = typeof u === 'string' && new URL(u).protocol === 'https:'; } catch { ok = false; }
    if (!ok) p.add(`${at}.urls[${i}]`, `must be an https:// URL (got ${JSON.stringify(u)})`);
  });
  if (e.note !== undefined && typeof e.note !== 'string') p.add(`${at}.note`, 'must be text');
}

const MODEL_KEYS = new Set(['id', 'file', 'sha256', 'size', 'urls', 'note', 'task', 'family', 'alpha', 'resolution', 'precision', 'format', 'referenceAccuracy', 'labels', 'licence', 'head']);
const LABEL_KEYS = new Set(['id', 'file', 'sha256', 'size', 'urls', 'note', 'derive', 'text']);

/** Checks a parsed catalog completely; throws one EdgefitError listing every problem. */
export function validateCatalog(data: unknown, path: string): Catalog {
  const p = new Problems(`catalog ${path}`);
  if (!isObj(data)) throw new EdgefitError('E_CATALOG', `catalog ${path}: must be a JSON object with "labels" and "models"`);
  if (data.version !== 1) p.add('version', `must be 1 (got ${JSON.stringify(data.version)})`);
  // the publisher's release number (signed catalogs: only goes up); `version` is the file format
  if (data.catalogVersion !== undefined && !(Number.isSafeInteger(data.catalogVersion) && (data.catalogVersion as number) >= 1)) p.add('catalogVersion', `must be a whole number >= 1 (got ${JSON.stringify(data.catalogVersion)})`);
  const labels = Array.isArray(data.labels) ? data.labels : (p.add('labels', 'must be a list'), []);
  const models = Array.isArray(data.models) ? data.models : (p.add('models', 'must be a list'), []);
  const labelIds = new Set<string>();
  labels.forEach((l: unknown, i: number) => {
    const at = `labels[${i}]`;
    if (!isObj(l)) { p.add(at, 'must be an object'); return; }
    for (const k of Object.keys(l)) if (!LABEL_KEYS.has(k)) p.add(`${at}.${k}`, `is not a known field (known: ${[...LABEL_KEYS].join(', ')})`);
    checkFile(p, at, l, labelIds);
    if (l.text !== undefined && typeof l.text !== 'string') p.add(`${at}.text`, 'must be text');
    if (l.derive !== undefined) {
      const d = l.derive;
      if (!isObj(d) || typeof d.from !== 'string' || !(Number.isInteger(d.dropFirstLines) && (d.dropFirstLines as number) >= 0)) p.add(`${at}.derive`, 'must be { "from": <labels id>, "dropFirstLines": <integer >= 0> }');
    }
  });
  labels.forEach((l: unknown, i: number) => {
    if (isObj(l) && isObj(l.derive) && (typeof l.derive.from !== 'string' || !labelIds.has(l.derive.from) || l.derive.from === l.id)) p.add(`labels[${i}].derive.from`, `must name another labels entry (got ${JSON.stringify(l.derive.from)})`);
  });
  const modelIds = new Set<string>();
  models.forEach((m: unknown, i: number) => {
    const at = `models[${i}]`;
    if (!isObj(m)) { p.add(at, 'must be an object'); return; }
    for (const k of Object.keys(m)) if (!MODEL_KEYS.has(k)) p.add(`${at}.${k}`, `is not a known field (known: ${[...MODEL_KEYS].join(', ')})`);
    checkFile(p, at, m, modelIds);
    if (!TASKS.includes(m.task as CatalogTask)) p.add(`${at}.task`, `must be one of ${TASKS.join(', ')} (got ${JSON.stringify(m.task)})`);
    if (m.task === 'detection' ? m.head !== 'ssd' && m.head !== 'ssdlite' : m.head !== undefined) p.add(`${at}.head`, `must be ssd or ssdlite for a detection model and absent otherwise (got ${JSON.stringify(m.head)})`);
    if (!FAMILIES.includes(m.family as Family)) p.add(`${at}.family`, `must be one of ${FAMILIES.join(', ')} (got ${JSON.stringify(m.family)})`);
    if (typeof m.alpha !== 'number' || !(m.alpha > 0 && m.alpha <= 4)) p.add(`${at}.alpha`, `must be a number in (0, 4] (got ${JSON.stringify(m.alpha)})`);
    if (!Number.isInteger(m.resolution) || (m.resolution as number) < 16 || (m.resolution as number) > 2048) p.add(`${at}.resolution`, `must be an integer 16..2048 (got ${JSON.stringify(m.resolution)})`);
    if (m.precision !== 'int8' && m.precision !== 'fp32') p.add(`${at}.precision`, `must be one of int8, fp32 (got ${JSON.stringify(m.precision)})`);
    if (!['tflite', 'keras', 'onnx'].includes(m.format as string)) p.add(`${at}.format`, `must be one of tflite, keras, onnx (got ${JSON.stringify(m.format)})`);
    if (m.referenceAccuracy !== undefined && !(typeof m.referenceAccuracy === 'number' && m.referenceAccuracy > 0 && m.referenceAccuracy <= 1)) p.add(`${at}.referenceAccuracy`, `must be a number in (0, 1] (got ${JSON.stringify(m.referenceAccuracy)})`);
    if (typeof m.labels !== 'string' || !labelIds.has(m.labels)) p.add(`${at}.labels`, `must name a labels entry (${[...labelIds].join(', ')}) (got ${JSON.stringify(m.labels)})`);
    if (typeof m.licence !== 'string' || m.licence === '') p.add(`${at}.licence`, 'must name the licence');
  });
  if (p.list.length > 0) throw new EdgefitError('E_CATALOG', `${p.list.join('\n')}\nfix the catalog (nothing was downloaded or written)`);
  return { path, labels: labels as CatalogLabels[], models: models as CatalogModel[] };
}

/** Reads and validates a catalog; an empty path means the catalog shipped with edgefit. */
export function loadCatalog(path?: string): Catalog {
  const p = path || defaultCatalogPath;
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (err) {
    throw new EdgefitError('E_CATALOG', `cannot read the model catalog ${p} (${errorMessage(err)}); check models.catalog`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new EdgefitError('E_CATALOG', `catalog ${p} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  return validateCatalog(data, p);
}
