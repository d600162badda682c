import { configSchema } from './schema.js';

/** A settable leaf of the configuration (a scalar or an array), with its schema node. */
export interface Field {
  path: string;
  segments: string[];
  env: string;
  schema: LeafSchema;
}

export interface LeafSchema {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'array';
  default: unknown;
  description: string;
  enum?: unknown[];
  items?: { type: string; enum?: unknown[] };
  [k: string]: unknown;
}

interface ObjectSchema {
  type: 'object';
  properties: Record<string, ObjectSchema | LeafSchema>;
}

export const ENV_PREFIX = 'EDGEFIT_';

/**
 * The environment variable of a path: EDGEFIT_ + segments joined by '_', each camelCase segment written
 * UPPER_SNAKE (mqtt.protocolVersion -> EDGEFIT_MQTT_PROTOCOL_VERSION).
 */
export function envName(path: string): string {
  return ENV_PREFIX + path.split('.').map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function collect(node: ObjectSchema, prefix: string[], out: Field[]): void {
  for (const [key, child] of Object.entries(node.properties)) {
    const segments = [...prefix, key];
    if (child.type === 'object') collect(child as ObjectSchema, segments, out);
    else {
      const path = segments.join('.');
      out.push({ path, segments, env: envName(path), schema: child as LeafSchema });
    }
  }
}

export const fields: readonly Field[] = (() => {
  const out: Field[] = [];
  collect(configSchema as unknown as ObjectSchema, [], out);
  const seen = new Map<string, string>();
  for (const f of out) {
    // two paths mapping to one variable would make the environment ambiguous; fail at import, not in the field
    const prev = seen.get(f.env);
    if (prev) throw new Error(`config schema: ${prev} and ${f.path} both map to ${f.env}`);
    seen.set(f.env, f.path);
  }
  return out;
})();

export const fieldByPath: ReadonlyMap<string, Field> = new Map(fields.map((f) => [f.path, f]));
export const fieldByEnv: ReadonlyMap<string, Field> = new Map(fields.map((f) => [f.env, f]));

/** Object paths (e.g. "mqtt.tls") and leaf paths: everything a user may name. */
export function schemaAt(segments: readonly string[]): ObjectSchema | LeafSchema | undefined {
  let node: ObjectSchema | LeafSchema = configSchema as unknown as ObjectSchema;
  for (const s of segments) {
    if (node.type !== 'object') return undefined;
    const next: ObjectSchema | LeafSchema | undefined = Object.prototype.hasOwnProperty.call((node as ObjectSchema).properties, s)
      ? (node as ObjectSchema).properties[s]
      : undefined;
    if (!next) return undefined;
    node = next;
  }
  return node;
}

export function childKeys(segments: readonly string[]): string[] {
  const node = schemaAt(segments);
  return node && node.type === 'object' ? Object.keys((node as ObjectSchema).properties) : [];
}

/**
 * Text from the environment or `--set` converted by the field's schema type. Text that does not parse is
 * returned unchanged, so validation reports it with the field's accepted values.
 */
export function parseText(field: Field, text: string): unknown {
  const t = text.trim();
  switch (field.schema.type) {
    case 'string': return text;
    case 'number':
    case 'integer': {
      if (t === '') return text;
      const n = Number(t);
      return Number.isFinite(n) ? n : text;
    }
    case 'boolean': {
      const l = t.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(l)) return true;
      if (['false', '0', 'no', 'off'].includes(l)) return false;
      return text;
    }
    case 'array': {
      if (t.startsWith('[')) {
        try { return JSON.parse(t) as unknown; } catch { return text; }
      }
      return t === '' ? [] : t.split(',').map((s) => s.trim());
    }
  }
}

/** Levenshtein distance, for did-you-mean suggestions on typos. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length]!;
}

export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  // a suggestion further than about a third of the word is noise
  return best !== undefined && bestD <= Math.max(2, Math.ceil(word.length / 3)) ? best : undefined;
}
