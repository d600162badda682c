import { EdgefitError } from '../util/errors.js';
import type { Config } from '../config/types.js';
import type { Catalog } from './catalog.js';
import { describeMirror, parseMirror, type Mirror } from './fetch.js';

/** host[:port] of every upstream URL in the catalog. */
export function catalogHosts(catalog: Catalog): string[] {
  const hosts = new Set<string>();
  for (const e of [...catalog.labels, ...catalog.models]) {
    for (const u of e.urls) {
      try { hosts.add(new URL(u).host.toLowerCase()); } catch { /* validateCatalog refused it already */ }
    }
  }
  return [...hosts].sort();
}

function sameMirror(a: Mirror, b: Mirror): boolean {
  return a.kind === 'url' && b.kind === 'url' ? a.base.href === b.base.href : a.kind === 'dir' && b.kind === 'dir' && a.root === b.root;
}

/**
 * Refuses a mirror named by a remote `pull-model` command unless it is the configured models.mirror or an
 * https URL on a host the catalog itself downloads from (models.allowAnyUrl lifts this). Without it, anyone who
 * may publish a command could make the board fetch from any address it reaches (its LAN, a cloud metadata
 * service) or read any local directory laid out like the catalog. Throws E_MIRROR (unusable text) or
 * E_MIRROR_NOT_ALLOWED; returns the parsed mirror.
 */
export function checkCommandMirror(text: string, config: Config, catalog: Catalog): Mirror {
  const mirror = parseMirror(text);
  if (config.models.allowAnyUrl) return mirror;
  if (config.models.mirror && sameMirror(mirror, parseMirror(config.models.mirror))) return mirror;
  const hosts = catalogHosts(catalog);
  if (mirror.kind === 'url' && mirror.base.protocol === 'https:' && hosts.includes(mirror.base.host.toLowerCase())) return mirror;
  const allowed = [
    config.models.mirror ? `the configured models.mirror (${describeMirror(parseMirror(config.models.mirror))})` : undefined,
    hosts.length ? `an https URL on ${hosts.join(', ')}` : undefined,
  ].filter(Boolean).join(' or ');
  throw new EdgefitError('E_MIRROR_NOT_ALLOWED', `mirror ${describeMirror(mirror)} is not allowed for a pull-model command: use ${allowed || 'no mirror (the catalog\'s own URLs)'}, or set models.allowAnyUrl on the board to allow any mirror`);
}
