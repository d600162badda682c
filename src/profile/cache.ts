import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { ProviderName } from '../engine/engine.js';
import { bundledOrtVersion, ortBindingIdentity } from '../engine/ort-binding.js';
import { writeFileAtomic } from '../util/atomic.js';
import { EdgefitError } from '../util/errors.js';
import type { Agreement, Measurement } from './types.js';
import { BUNDLED_RUNTIME, type OrtRuntime } from './runtime.js';

/** Everything a measurement depends on; a change in any field means measuring again. */
export interface CacheKey {
  /** the device's board fingerprint (src/device) */
  board: string;
  /** sha256 of the .onnx file */
  sha256: string;
  /** input resolution fed: one file with symbolic H/W is several ladder rungs */
  resolution: number;
  /** the runtime measured on (runtimeVersion): onnxruntime's version, with the custom library's identity and TensorRT FP16 */
  ortVersion: string;
  provider: ProviderName;
  threads: number;
}

export type ThreadlessKey = Omit<CacheKey, 'threads'>;

export interface CacheEntry {
  key: CacheKey;
  measurement: Measurement;
}

/** What an agreement measurement depends on: the rung, the native resolution it is compared with, the probe frames. */
export interface AgreementKey extends ThreadlessKey {
  nativeResolution: number;
  /** ProbeSet.sha256 */
  probeSet: string;
}

export interface AgreementEntry {
  key: AgreementKey;
  agreement: Agreement;
}

/**
 * Version 1 still: `agreements` is an added section, and a file without it (written before agreement was measured)
 * reads as it always did, its latency figures valid and its agreements measured when asked for. Nothing in an
 * older entry changed meaning, so nothing needs measuring again.
 */
interface CacheFile {
  format: 'edgefit-profile-cache';
  version: 1;
  entries: Record<string, CacheEntry>;
  /** the thread count that measured fastest for a (board, model, runtime, provider) */
  best: Record<string, { key: ThreadlessKey; threads: number }>;
  /** top-1 agreement of reduced-resolution rungs with their native model, on a probe set */
  agreements: Record<string, AgreementEntry>;
}

const PROVIDERS: readonly ProviderName[] = ['tensorrt', 'cuda', 'cpu', 'wasm', 'tfjs-node', 'tfjs-wasm'];

function threadlessId(k: ThreadlessKey): string {
  return JSON.stringify([k.board, k.sha256, k.resolution, k.ortVersion, k.provider]);
}

function keyId(k: CacheKey): string {
  return JSON.stringify([k.board, k.sha256, k.resolution, k.ortVersion, k.provider, k.threads]);
}

function validKey(k: unknown, withThreads: boolean): k is CacheKey {
  if (!k || typeof k !== 'object') return false;
  const o = k as Record<string, unknown>;
  return typeof o.board === 'string' && o.board.length > 0
    && typeof o.sha256 === 'string' && /^[0-9a-f]{64}$/.test(o.sha256)
    && typeof o.resolution === 'number' && Number.isInteger(o.resolution) && o.resolution > 0
    && typeof o.ortVersion === 'string' && o.ortVersion.length > 0
    && PROVIDERS.includes(o.provider as ProviderName)
    && (!withThreads || (typeof o.threads === 'number' && Number.isInteger(o.threads) && o.threads > 0));
}

function agreementId(k: AgreementKey): string {
  return JSON.stringify([k.board, k.sha256, k.resolution, k.nativeResolution, k.ortVersion, k.provider, k.probeSet]);
}

function validAgreementKey(k: unknown): k is AgreementKey {
  if (!validKey(k, false)) return false;
  const o = k as unknown as Record<string, unknown>;
  return typeof o.nativeResolution === 'number' && Number.isInteger(o.nativeResolution) && o.nativeResolution > 0
    && typeof o.probeSet === 'string' && /^[0-9a-f]{64}$/.test(o.probeSet);
}

function validAgreement(a: unknown): a is Agreement {
  if (!a || typeof a !== 'object') return false;
  const o = a as Record<string, unknown>;
  const count = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  return typeof o.ok === 'boolean' && count(o.frames) && count(o.agreeing) && (o.agreeing as number) <= (o.frames as number)
    && typeof o.nativeResolution === 'number' && typeof o.probeSet === 'string' && typeof o.measuredAt === 'string';
}

function validMeasurement(m: unknown): m is Measurement {
  if (!m || typeof m !== 'object') return false;
  const o = m as Record<string, unknown>;
  const lat = o.latencyMs as Record<string, unknown> | undefined;
  return typeof o.variantId === 'string' && typeof o.ok === 'boolean' && typeof o.threads === 'number'
    && !!lat && typeof lat === 'object' && ['p50', 'p90', 'p99'].every((p) => typeof lat[p] === 'number' || lat[p] === null);
}

/** JSON has no NaN: failed measurements store null, and come back as NaN. */
function revive(m: Measurement): Measurement {
  const n = (x: unknown) => (typeof x === 'number' ? x : NaN);
  const l = m.latencyMs;
  return {
    ...m,
    latencyMs: { p50: n(l.p50), p90: n(l.p90), p99: n(l.p99), mean: n(l.mean), stddev: n(l.stddev), min: n(l.min), max: n(l.max) },
    sessionCreateMs: n(m.sessionCreateMs),
    rssGrowthMb: n(m.rssGrowthMb),
    peakMb: n(m.peakMb),
  };
}

export interface ProfileCacheOptions {
  /** refuse an unreadable file (for --from-cache) instead of starting empty (for the local cache) */
  strict?: boolean;
}

/**
 * Profile measurements on disk, keyed by board, model hash, runtime version, provider and threads. Writes are
 * atomic (temp, fsync, rename): a power cut leaves the old or the new file.
 */
export class ProfileCache {
  private data: CacheFile | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** set when the file existed but could not be read and the cache started empty */
  warning: string | undefined;

  constructor(readonly path: string, private readonly options: ProfileCacheOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new EdgefitError('E_CACHE_PATH', 'ProfileCache needs a file path');
  }

  private load(): CacheFile {
    if (this.data) return this.data;
    const empty: CacheFile = { format: 'edgefit-profile-cache', version: 1, entries: {}, best: {}, agreements: {} };
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !this.options.strict) return (this.data = empty);
      throw new EdgefitError('E_CACHE_READ', `cannot read the profile cache ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const raw = JSON.parse(text) as Partial<CacheFile>;
      if (raw.format !== 'edgefit-profile-cache' || raw.version !== 1) throw new Error('not an edgefit profile cache (format/version)');
      const data: CacheFile = { ...empty, entries: {}, best: {}, agreements: {} };
      for (const e of Object.values(raw.entries ?? {})) {
        if (validKey(e?.key, true) && validMeasurement(e.measurement)) data.entries[keyId(e.key)] = { key: e.key, measurement: revive(e.measurement) };
      }
      for (const b of Object.values(raw.best ?? {})) {
        if (validKey(b?.key, false) && Number.isInteger(b.threads) && b.threads > 0) data.best[threadlessId(b.key)] = b;
      }
      for (const a of Object.values(raw.agreements ?? {})) {
        if (validAgreementKey(a?.key) && validAgreement(a.agreement)) data.agreements[agreementId(a.key)] = { key: a.key, agreement: a.agreement };
      }
      return (this.data = data);
    } catch (err) {
      if (this.options.strict) {
        throw new EdgefitError('E_CACHE_PARSE', `${this.path} is not a readable edgefit profile cache (${(err as Error).message}); give the file \`edgefit profile\` wrote`, { cause: err });
      }
      this.warning = `profile cache ${this.path} was unreadable (${(err as Error).message}); starting empty, it will be rewritten`;
      return (this.data = empty);
    }
  }

  get(key: CacheKey): Measurement | undefined {
    if (!validKey(key, true)) throw new EdgefitError('E_CACHE_KEY', `invalid profile cache key ${JSON.stringify(key)}`);
    return this.load().entries[keyId(key)]?.measurement;
  }

  async put(key: CacheKey, m: Measurement): Promise<void> {
    if (!validKey(key, true)) throw new EdgefitError('E_CACHE_KEY', `invalid profile cache key ${JSON.stringify(key)}`);
    this.load().entries[keyId(key)] = { key: { ...key }, measurement: m };
    await this.flush();
  }

  /** Records which thread count measured best; getBest then returns that measurement. */
  async putBest(key: ThreadlessKey, threads: number): Promise<void> {
    if (!validKey(key, false)) throw new EdgefitError('E_CACHE_KEY', `invalid profile cache key ${JSON.stringify(key)}`);
    const k: ThreadlessKey = { board: key.board, sha256: key.sha256, resolution: key.resolution, ortVersion: key.ortVersion, provider: key.provider };
    this.load().best[threadlessId(k)] = { key: k, threads };
    await this.flush();
  }

  getBest(key: ThreadlessKey): Measurement | undefined {
    const b = this.load().best[threadlessId(key)];
    return b ? this.get({ ...key, threads: b.threads }) : undefined;
  }

  getAgreement(key: AgreementKey): Agreement | undefined {
    if (!validAgreementKey(key)) throw new EdgefitError('E_CACHE_KEY', `invalid agreement cache key ${JSON.stringify(key)}`);
    return this.load().agreements[agreementId(key)]?.agreement;
  }

  async putAgreement(key: AgreementKey, a: Agreement): Promise<void> {
    if (!validAgreementKey(key)) throw new EdgefitError('E_CACHE_KEY', `invalid agreement cache key ${JSON.stringify(key)}`);
    if (!validAgreement(a)) throw new EdgefitError('E_CACHE_VALUE', `invalid agreement ${JSON.stringify(a)}`);
    const k: AgreementKey = { board: key.board, sha256: key.sha256, resolution: key.resolution, nativeResolution: key.nativeResolution, ortVersion: key.ortVersion, provider: key.provider, probeSet: key.probeSet };
    this.load().agreements[agreementId(k)] = { key: k, agreement: a };
    await this.flush();
  }

  /** Agreement records, optionally of one board only. */
  agreementList(board?: string): AgreementEntry[] {
    return Object.values(this.load().agreements).filter((e) => board === undefined || e.key.board === board);
  }

  /** Every entry, optionally of one board only. */
  list(board?: string): CacheEntry[] {
    return Object.values(this.load().entries).filter((e) => board === undefined || e.key.board === board);
  }

  /** Best-thread records, optionally of one board only. */
  bestList(board?: string): CacheEntry[] {
    const out: CacheEntry[] = [];
    for (const b of Object.values(this.load().best)) {
      if (board !== undefined && b.key.board !== board) continue;
      const m = this.get({ ...b.key, threads: b.threads });
      if (m) out.push({ key: { ...b.key, threads: b.threads }, measurement: m });
    }
    return out;
  }

  boards(): string[] {
    return [...new Set(Object.values(this.load().entries).map((e) => e.key.board))].sort();
  }

  private flush(): Promise<void> {
    // Serialized: two puts racing must not rename an older snapshot over a newer one.
    const next = this.writing.then(() => writeFileAtomic(this.path, JSON.stringify(this.load(), null, 1) + '\n'));
    this.writing = next.catch(() => undefined);
    return next;
  }
}


/** A runtime's version as a key part: letters, digits, '.', '_', '-' (a fleet topic level, src/mqtt/topics.ts). */
function keyPart(v: string): string {
  return v.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 32) || 'unknown';
}

/**
 * The runtime a provider's measurements depend on, as the cache key's `ortVersion`:
 *  - for the TensorFlow.js providers `tfjs-<version>` (one onnxruntime upgrade leaves the tfjs figures valid);
 *  - on the bundled onnxruntime-node its version, `1.30.0`, as before: the caches written so far stay valid;
 *  - on a custom library (engine.ortLibraryPath) its version and identity, `1.20.1_lib-<12 hex digits>`
 *    (ortBindingIdentity: the build's directory and native files, so a rebuild in place measures again);
 *  - for tensorrt with engine.trtFp16 on, `_fp16` after either (FP16 engines are other figures; the other
 *    providers ignore the setting, so toggling it keeps their figures).
 * `ort` overrides the version part (tests). A library that cannot be resolved gets an identity of its path: its
 * measurement fails in the child with the loader's reason, and a failure is never cached.
 */
export function runtimeVersion(provider: ProviderName, ort: string = '', runtime: OrtRuntime = BUNDLED_RUNTIME): string {
  if (provider === 'tfjs-node' || provider === 'tfjs-wasm') {
    cachedTfjsVersion ??= `tfjs-${(JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json'), 'utf8')) as { version: string }).version}`;
    return cachedTfjsVersion;
  }
  let key = ort || ortVersion();
  const lib = runtime.ortLibraryPath.trim();
  if (lib) {
    let id: { version: string; id: string };
    try {
      id = ortBindingIdentity(lib);
    } catch {
      id = { version: ort || 'unresolved', id: createHash('sha256').update(resolve(lib)).digest('hex').slice(0, 12) };
    }
    key = `${keyPart(ort || id.version)}_lib-${id.id}`;
  }
  return provider === 'tensorrt' && runtime.trtFp16 ? `${key}_fp16` : key;
}
let cachedTfjsVersion: string | undefined;

/** The bundled onnxruntime-node's version (its package.json, nothing loaded): the key's runtime on the bundled library. */
export function ortVersion(): string {
  return bundledOrtVersion();
}
