import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { safeJoin, sha256Hex } from './store.js';
import type { CatalogFile } from './catalog.js';

export type Mirror = { kind: 'dir'; root: string } | { kind: 'url'; base: URL };

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
}

/** A mirror is an http(s) URL, a file:// URL or a local directory, laid out like the catalog's relative paths. */
export function parseMirror(text: string): Mirror {
  if (/^https?:\/\//i.test(text)) {
    const base = new URL(text);
    // fetch() refuses URLs with credentials, and error messages and replies would carry the password
    if (base.username || base.password) {
      throw new EdgefitError('E_MIRROR', `mirror ${base.protocol}//***@${base.host}${base.pathname}: credentials in the URL are not supported; serve the mirror without them (e.g. on the local network) or use a directory`);
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    return { kind: 'url', base };
  }
  if (/^file:\/\//i.test(text)) return { kind: 'dir', root: fileURLToPath(text) };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text)) {
    throw new EdgefitError('E_MIRROR', `mirror ${JSON.stringify(text)}: use an http(s):// URL, a file:// URL or a directory`);
  }
  return { kind: 'dir', root: resolve(text) };
}

export function describeMirror(m: Mirror): string {
  return m.kind === 'url' ? m.base.href : m.root;
}

/**
 * Why a transfer failed, in words of our own: the error's code (ECONNREFUSED, ERR_TLS_CERT_ALTNAME_INVALID...)
 * and never its text, which can quote what the server sent (a certificate's names, a reset reason), and which
 * would travel in a pull-model reply to whoever asked.
 */
function networkFailure(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,63}$/.test(code)) return `connection failed (${code})`;
  }
  return 'connection failed';
}

/**
 * GET a URL with Node's fetch: redirects followed, a whole-transfer timeout, and a size limit enforced both on
 * Content-Length and while streaming (a server that lies about the length is cut off). Error messages name the
 * URL, the HTTP status number or a network error code, never text or values the server sent.
 */
export async function fetchBytes(url: string, limits: FetchLimits): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal });
  } catch (err) {
    const why = signal.aborted ? `no answer within ${Math.round(limits.timeoutMs / 1000)} s` : networkFailure(err);
    throw new EdgefitError('E_DOWNLOAD', `${url}: ${why}`, { cause: err });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    // the status number only: the reason phrase is the server's text
    throw new EdgefitError('E_DOWNLOAD', `${url}: HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new EdgefitError('E_DOWNLOAD', `${url}: the server announces a size over the limit of ${limits.maxBytes} bytes (models.maxDownloadMb); refused`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (!res.body) return new Uint8Array(0);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.length;
      if (total > limits.maxBytes) throw new EdgefitError('E_DOWNLOAD', `${url}: more than ${limits.maxBytes} bytes (models.maxDownloadMb); refused`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof EdgefitError) throw err;
    const why = signal.aborted ? `transfer not finished within ${Math.round(limits.timeoutMs / 1000)} s` : networkFailure(err);
    throw new EdgefitError('E_DOWNLOAD', `${url}: ${why}`, { cause: err });
  }
  return Buffer.concat(chunks, total);
}

async function readLocal(path: string, maxBytes: number): Promise<Uint8Array> {
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new EdgefitError('E_DOWNLOAD', err.code === 'ENOENT' ? `${path}: not in the mirror directory` : `${path}: ${err.message}`, { cause: err });
  });
  if (!st.isFile()) throw new EdgefitError('E_DOWNLOAD', `${path}: not a regular file`);
  if (st.size > maxBytes) throw new EdgefitError('E_DOWNLOAD', `${path}: ${st.size} bytes is over the limit of ${maxBytes}`);
  return readFile(path);
}

export interface Fetched {
  bytes: Uint8Array;
  from: string;
}

/**
 * The bytes of a catalog file whose sha256 matches, from the mirror when one is given (only there: a mirror is
 * chosen for boards without internet), else from the upstream URLs in order. Nothing is written here.
 */
export async function obtainVerified(entry: CatalogFile, mirror: Mirror | undefined, limits: FetchLimits): Promise<Fetched> {
  const maxBytes = entry.size !== undefined ? Math.min(limits.maxBytes, entry.size) : limits.maxBytes;
  const attempts: Array<{ from: string; get: () => Promise<Uint8Array> }> = [];
  if (mirror?.kind === 'dir') {
    const p = safeJoin(mirror.root, entry.file);
    attempts.push({ from: p, get: () => readLocal(p, maxBytes) });
  } else if (mirror?.kind === 'url') {
    const u = new URL(entry.file, mirror.base);
    // new URL() resolves '..' itself; the catalog refuses such paths already, this keeps it that way
    if (!u.href.startsWith(mirror.base.href)) throw new EdgefitError('E_CATALOG_PATH', `refusing ${entry.file}: it leaves the mirror ${mirror.base.href}`);
    attempts.push({ from: u.href, get: () => fetchBytes(u.href, { ...limits, maxBytes }) });
  } else {
    for (const url of entry.urls) attempts.push({ from: url, get: () => fetchBytes(url, { ...limits, maxBytes }) });
  }
  if (attempts.length === 0) {
    throw new EdgefitError('E_DOWNLOAD', `${entry.id}: no upstream URL is known for ${entry.file}; pull with --mirror URL|DIR`);
  }
  const failures: string[] = [];
  for (const a of attempts) {
    let bytes: Uint8Array;
    try {
      bytes = await a.get();
    } catch (err) {
      failures.push(errorMessage(err));
      continue;
    }
    if (sha256Hex(bytes) === entry.sha256) return { bytes, from: a.from };
    // not the sha256 of what came: a digest of a foreign server's answer is still something it said
    failures.push(`${a.from}: the file's sha256 does not match the catalog's ${entry.sha256} (corrupt or different file); refused`);
  }
  throw new EdgefitError('E_DOWNLOAD', `${entry.id}: ${failures.join('; ')}`);
}
