/**
 * Ed25519 signatures of the model catalog, with node:crypto only. A signature is detached (`<catalog>.sig`, JSON)
 * and covers the catalog file's exact bytes behind a fixed context string, so no re-serialisation can change what
 * was signed and a signature made for something else with the same key never verifies as a catalog's. The
 * catalog's own `catalogVersion` (an integer that only goes up) is inside the signed bytes: a device remembers the
 * highest version it accepted and refuses an older one (a replay of a signed but superseded catalog).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type { Config } from '../config/types.js';
import { defaultCatalogPath, validateCatalog, type Catalog } from './catalog.js';
import { EdgefitError, errorMessage } from '../util/errors.js';

/** Prepended to the catalog bytes before signing: binds the signature to this use of the key. */
export const SIGNATURE_CONTEXT = 'edgefit catalog signature v1\0';
export const SIGNATURE_FORMAT = 'edgefit-catalog-signature';

/** The detached signature file (`<catalog>.sig`). Only `signature` is proof; the rest says what it is for. */
export interface CatalogSignature {
  format: typeof SIGNATURE_FORMAT;
  version: 1;
  algorithm: 'ed25519';
  /** first 16 hex digits of sha256 over the public key (SPKI DER): which key signed */
  keyId: string;
  /** sha256 of the signed catalog file's bytes */
  catalogSha256: string;
  catalogVersion: number;
  /** base64 of the 64-byte Ed25519 signature over SIGNATURE_CONTEXT + the catalog bytes */
  signature: string;
}

/** What a verified catalog is. */
export interface VerifiedCatalog {
  catalogSha256: string;
  catalogVersion: number;
  keyId: string;
}

export function signaturePathOf(catalogPath: string): string {
  return `${catalogPath}.sig`;
}

function message(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(SIGNATURE_CONTEXT, 'utf8'), bytes]);
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function keyIdOf(pub: KeyObject): string {
  return sha256(pub.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

function readKeyFile(path: string, what: string, hint: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new EdgefitError('E_SIGNATURE', `cannot read the ${what} ${path} (${errorMessage(err)}); ${hint}`, { cause: err });
  }
}

/** An Ed25519 public key from a PEM file (what `edgefit catalog keygen` writes). */
export function loadPublicKey(path: string, hint = 'check models.publicKey'): KeyObject {
  const text = readKeyFile(path, 'public key', hint);
  let key: KeyObject;
  try { key = createPublicKey(text); } catch (err) {
    throw new EdgefitError('E_SIGNATURE', `${path} is not a PEM public key (${errorMessage(err)}); give the .pub.pem that \`edgefit catalog keygen\` wrote`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new EdgefitError('E_SIGNATURE', `${path} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519; make one with \`edgefit catalog keygen\``);
  return key;
}

export function loadPrivateKey(path: string): KeyObject {
  const text = readKeyFile(path, 'private key', 'give the .key.pem that `edgefit catalog keygen` wrote');
  let key: KeyObject;
  try { key = createPrivateKey(text); } catch (err) {
    throw new EdgefitError('E_SIGNATURE', `${path} is not a PEM private key (${errorMessage(err)}); give the .key.pem that \`edgefit catalog keygen\` wrote`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new EdgefitError('E_SIGNATURE', `${path} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519; make one with \`edgefit catalog keygen\``);
  return key;
}

/** A new key pair as PEM texts: the private key (PKCS#8) stays with the publisher, the public one goes to devices. */
export function generateSigningKeys(): { privatePem: string; publicPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

/** The catalog's `catalogVersion`, read from its bytes; a catalog to sign must have one. */
export function catalogVersionOf(bytes: Buffer, path: string): number | undefined {
  let data: unknown;
  try { data = JSON.parse(bytes.toString('utf8')); } catch (err) {
    throw new EdgefitError('E_CATALOG', `catalog ${path} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  const v = (data as { catalogVersion?: unknown } | null)?.catalogVersion;
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new EdgefitError('E_CATALOG', `catalog ${path}: catalogVersion must be a whole number >= 1 (got ${JSON.stringify(v)})`);
  return v as number;
}

/** Signs the catalog's bytes; the catalog must carry a catalogVersion (the replay guard depends on it). */
export function signCatalog(bytes: Buffer, path: string, key: KeyObject): CatalogSignature {
  const version = catalogVersionOf(bytes, path);
  if (version === undefined) throw new EdgefitError('E_CATALOG', `catalog ${path} has no "catalogVersion": add one (a whole number, higher than the last catalog you published) before signing`);
  return {
    format: SIGNATURE_FORMAT, version: 1, algorithm: 'ed25519', keyId: keyIdOf(createPublicKey(key)),
    catalogSha256: sha256(bytes), catalogVersion: version,
    signature: sign(null, message(bytes), key).toString('base64'),
  };
}

function parseSignature(text: string, sigPath: string): CatalogSignature {
  let s: Partial<CatalogSignature>;
  try { s = JSON.parse(text) as Partial<CatalogSignature>; } catch (err) {
    throw new EdgefitError('E_SIGNATURE', `${sigPath} is not a signature file (${errorMessage(err)}); sign the catalog again with \`edgefit catalog sign\``, { cause: err });
  }
  if (!s || s.format !== SIGNATURE_FORMAT || s.version !== 1 || s.algorithm !== 'ed25519' || typeof s.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(s.signature)) {
    throw new EdgefitError('E_SIGNATURE', `${sigPath} is not an edgefit Ed25519 catalog signature (format, version, algorithm or signature wrong); sign the catalog again with \`edgefit catalog sign\``);
  }
  return s as CatalogSignature;
}

/**
 * Verifies a catalog's bytes against its detached signature and the public key. Throws E_SIGNATURE for a missing,
 * malformed or wrong signature (a signature of another catalog, another key): the message says which.
 */
export function verifyCatalog(bytes: Buffer, path: string, key: KeyObject, sigText?: string): VerifiedCatalog {
  const sigPath = signaturePathOf(path);
  let text = sigText;
  if (text === undefined) {
    try { text = readFileSync(sigPath, 'utf8'); } catch (err) {
      throw new EdgefitError('E_SIGNATURE', `catalog ${path} is not signed: ${sigPath} is missing (${errorMessage(err)}), and models.publicKey requires a signed catalog; sign it with \`edgefit catalog sign --key PRIVATE.pem --catalog ${path}\``, { cause: err });
    }
  }
  const sig = parseSignature(text, sigPath);
  const keyId = keyIdOf(key);
  if (sig.keyId !== keyId) {
    throw new EdgefitError('E_SIGNATURE', `catalog ${path} was signed by key ${String(sig.keyId)}, not by the configured key ${keyId}; sign it with the private key that matches models.publicKey`);
  }
  if (!verify(null, message(bytes), key, Buffer.from(sig.signature, 'base64'))) {
    const other = sig.catalogSha256 !== sha256(bytes);
    throw new EdgefitError('E_SIGNATURE', `catalog ${path}: the signature does not verify${other ? ' (it was made over a different catalog: the file changed after signing)' : ''}; refusing it. Sign the catalog again with \`edgefit catalog sign\``);
  }
  const version = catalogVersionOf(bytes, path);
  if (version === undefined) throw new EdgefitError('E_SIGNATURE', `catalog ${path} is signed but has no catalogVersion; add one and sign again`);
  return { catalogSha256: sha256(bytes), catalogVersion: version, keyId };
}

interface AcceptedRecord { catalogVersion: number; catalogSha256: string; acceptedAt: string }

/**
 * The highest catalog version this device accepted (<stateDir>/catalog-accepted.json). Versions only go up: an
 * older one is a replay; the same version with other bytes is refused too (a version is never reused).
 */
export class AcceptedCatalogs {
  readonly path: string;
  constructor(stateDir: string) { this.path = join(stateDir, 'catalog-accepted.json'); }

  read(): AcceptedRecord | undefined {
    let text: string;
    try { text = readFileSync(this.path, 'utf8'); } catch { return undefined; }
    try {
      const r = JSON.parse(text) as AcceptedRecord;
      return Number.isSafeInteger(r.catalogVersion) && typeof r.catalogSha256 === 'string' ? r : undefined;
    } catch { return undefined; }
  }

  /** Throws E_CATALOG_REPLAY when `v` is older than (or reuses the version of) what was accepted. */
  check(v: VerifiedCatalog, path: string): void {
    const last = this.read();
    if (!last) return;
    if (v.catalogVersion < last.catalogVersion) {
      throw new EdgefitError('E_CATALOG_REPLAY', `catalog ${path} has catalogVersion ${v.catalogVersion}, older than version ${last.catalogVersion} this device accepted on ${last.acceptedAt}: refused as a replay (versions only go up). Install the current catalog, or publish a new one with a higher catalogVersion`);
    }
    if (v.catalogVersion === last.catalogVersion && v.catalogSha256 !== last.catalogSha256) {
      throw new EdgefitError('E_CATALOG_REPLAY', `catalog ${path} reuses catalogVersion ${v.catalogVersion} with different content: refused (every new catalog needs a higher catalogVersion). Raise catalogVersion and sign again`);
    }
  }

  async accept(v: VerifiedCatalog): Promise<void> {
    const last = this.read();
    if (last && last.catalogVersion === v.catalogVersion && last.catalogSha256 === v.catalogSha256) return;
    await writeFileAtomic(this.path, JSON.stringify({ catalogVersion: v.catalogVersion, catalogSha256: v.catalogSha256, acceptedAt: new Date().toISOString() }) + '\n');
  }
}

/**
 * The catalog of the configuration, through the gate of models.publicKey when one is set: the file is read once,
 * its signature verified over those bytes, a replay refused, its version remembered, and the same bytes parsed
 * (nothing can change the file between the check and the use). Without a key: the catalog as it is.
 */
export async function loadConfiguredCatalog(config: { models: Pick<Config['models'], 'catalog' | 'publicKey'>; stateDir: string }): Promise<Catalog & { verified?: VerifiedCatalog }> {
  // a rollout's catalog: the one a completed rollout installed replaces models.catalog; one still proving
  // (models.catalog pointed below <stateDir>/rollout/ by the rollout's pull and selection) is verified but not
  // remembered as accepted, so a rollback to the last good catalog is not taken for a replay
  const rolloutDir = join(config.stateDir, 'rollout') + sep;
  const configured = config.models.catalog;
  const proving = !!configured && resolve(configured).startsWith(rolloutDir);
  const active = activeRolloutCatalog(config.stateDir);
  const path = proving ? configured : active ?? (configured || defaultCatalogPath);
  const remember = !proving || resolve(configured) === (active && resolve(active));
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (err) {
    throw new EdgefitError('E_CATALOG', `cannot read the model catalog ${path} (${errorMessage(err)}); check models.catalog`, { cause: err });
  }
  let verified: VerifiedCatalog | undefined;
  if (config.models.publicKey) {
    verified = verifyCatalog(bytes, path, loadPublicKey(config.models.publicKey));
    const accepted = new AcceptedCatalogs(config.stateDir);
    accepted.check(verified, path);
    if (remember) await accepted.accept(verified);
  }
  let data: unknown;
  try { data = JSON.parse(bytes.toString('utf8')); } catch (err) {
    throw new EdgefitError('E_CATALOG', `catalog ${path} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  return { ...validateCatalog(data, path), ...(verified ? { verified } : {}) };
}

/**
 * The catalog a completed rollout installed (<stateDir>/rollout/active.json names it), which replaces
 * models.catalog from then on; undefined when no rollout completed on this device (or its file is gone).
 */
export function activeRolloutCatalog(stateDir: string): string | undefined {
  try {
    const a = JSON.parse(readFileSync(join(stateDir, 'rollout', 'active.json'), 'utf8')) as { path?: unknown };
    return typeof a.path === 'string' && existsSync(a.path) ? a.path : undefined;
  } catch { return undefined; }
}

/**
 * Makes a rollout's catalog the device's catalog (after the rollout completed). active.json first, the replay guard
 * after it: a crash between the two leaves active.json naming a catalog newer than the guard, which the next start
 * loads and accepts (loadConfiguredCatalog), whereas a guard raised first would refuse the last good catalog that
 * start falls back on (E_CATALOG_REPLAY) at every start.
 */
export async function installRolloutCatalog(stateDir: string, path: string, v: VerifiedCatalog): Promise<void> {
  await writeFileAtomic(join(stateDir, 'rollout', 'active.json'), JSON.stringify({ path, catalogVersion: v.catalogVersion, catalogSha256: v.catalogSha256, installedAt: new Date().toISOString() }) + '\n');
  await new AcceptedCatalogs(stateDir).accept(v);
}
