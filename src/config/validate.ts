import type { ErrorObject, ValidateFunction } from 'ajv';
import { fieldByPath } from './fields.js';
import { shownSetting } from './redact-settings.js';
import { cameraProblems } from './cameras.js';
import type { CameraEntry } from './types.js';
// ajv's compilation of configSchema (allErrors, strict, verbose, the 'x-accepted' annotation keyword), written
// out by scripts/write-validators.ts: the daemon does not load ajv and compile the schema at every start
import { validate as generated } from './validator.generated.js';

function validator(): ValidateFunction {
  return generated as ValidateFunction;
}

function show(path: string, value: unknown): string {
  const v = shownSetting(path, value);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'nothing';
  return JSON.stringify(v);
}

function article(type: string): string {
  return type === 'integer' || type === 'array' || type === 'object' ? `an ${type === 'array' ? 'list' : type}` : `a ${type}`;
}

function fmtList(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
}

function rangeWords(node: Record<string, unknown>): string {
  const lo = node.minimum !== undefined ? `>= ${String(node.minimum)}` : node.exclusiveMinimum !== undefined ? `> ${String(node.exclusiveMinimum)}` : '';
  const hi = node.maximum !== undefined ? `<= ${String(node.maximum)}` : node.exclusiveMaximum !== undefined ? `< ${String(node.exclusiveMaximum)}` : '';
  return [lo, hi].filter(Boolean).join(' and ');
}

/** One ajv error as "config: <path> must be <accepted> (got <value>) — <origin>". */
function describeError(e: ErrorObject, root: unknown, originOf: (path: string) => string): string | undefined {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let fieldParts = parts;
  let index: string | undefined;
  if (parts.length > 0 && /^\d+$/.test(parts[parts.length - 1]!) && fieldByPath.has(parts.slice(0, -1).join('.'))) {
    index = parts[parts.length - 1];
    fieldParts = parts.slice(0, -1);
  }
  const path = fieldParts.join('.');
  const shown = index !== undefined ? `${path}[${index}]` : path.replace(/\.(\d+)(?=\.|$)/g, '[$1]') || '(top level)';
  let value: unknown = root;
  for (const p of parts) value = (value as Record<string, unknown> | undefined)?.[p];
  const node = e.parentSchema as Record<string, unknown> | undefined ?? {};
  // inside a list of objects (cameras.0.id), the origin is the list's
  const leaf = fieldParts.findIndex((_, i) => fieldByPath.has(fieldParts.slice(0, i + 1).join('.')));
  const from = originOf(leaf >= 0 ? fieldParts.slice(0, leaf + 1).join('.') : path);
  let must: string;
  switch (e.keyword) {
    case 'enum': must = `be one of ${fmtList(e.params.allowedValues as unknown[])}`; break;
    case 'type': {
      must = `be ${article(String(e.params.type))}`;
      const range = rangeWords(node);
      if (range) must += ` ${range}`;
      if (Array.isArray(node.enum)) must = `be one of ${fmtList(node.enum)}`;
      if (node.type === 'array') {
        const items = node.items as { enum?: unknown[] } | undefined;
        must = `be a list${items?.enum ? ` of ${fmtList(items.enum)}` : ''} (comma-separated in the environment or --set)`;
      }
      break;
    }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      must = `be ${rangeWords(node)}`; break;
    case 'pattern': must = `be ${String(node['x-accepted'] ?? `text matching ${String(node.pattern)}`)}`; break;
    case 'maxLength': must = `be at most ${String(e.params.limit)} characters${node['x-accepted'] ? `: ${String(node['x-accepted'])}` : ''}`; break;
    case 'minLength': must = `be at least ${String(e.params.limit)} characters`; break;
    case 'minItems': must = `list at least ${String(e.params.limit)} item(s)`; break;
    case 'uniqueItems': must = 'list each item once'; break;
    // in a list of objects (cameras[0]), the item's index is kept
    case 'required': return `config: ${index !== undefined ? `${path}[${index}].` : path ? `${path}.` : ''}${String(e.params.missingProperty)} is missing — ${from}`;
    case 'additionalProperties': return `config: ${index !== undefined ? `${path}[${index}].` : path ? `${path}.` : ''}${String(e.params.additionalProperty)} is not a setting`;
    default: must = `satisfy ${e.keyword} (${e.message ?? ''})`;
  }
  return `config: ${shown} must ${must} (got ${show(path, value)}) — ${from}`;
}

/** Rules across fields, which JSON Schema states poorly. */
function crossChecks(tree: Record<string, Record<string, unknown> | undefined>, originOf: (path: string) => string): string[] {
  const out: string[] = [];
  const b = tree.budget ?? {};
  if (b.latencyMs === 0 && b.fps === 0) {
    out.push(`config: budget.latencyMs or budget.fps must be > 0 (both are 0) — ${originOf('budget.fps')}`);
  }
  const tls = (tree.mqtt?.tls ?? {}) as Record<string, unknown>;
  if ((tls.cert === '') !== (tls.key === '')) {
    out.push(`config: mqtt.tls.cert and mqtt.tls.key must be given together (got cert ${show('', tls.cert)}, key ${show('', tls.key)}) — ${originOf(tls.cert === '' ? 'mqtt.tls.key' : 'mqtt.tls.cert')}`);
  }
  const url = tree.mqtt?.url;
  if (typeof url === 'string' && url !== '') {
    const why = brokerUrlProblem(url);
    if (why) out.push(`config: mqtt.url must be a broker URL such as mqtt://broker.local:1883 (${why}; got ${show('mqtt.url', url)}) — ${originOf('mqtt.url')}`);
  }
  if (Array.isArray(tree.cameras)) out.push(...cameraProblems(tree.cameras as unknown as Partial<CameraEntry>[], originOf('cameras'), b));
  return out;
}

/** Why the MQTT client could not connect to this URL (the schema's pattern has checked the scheme), or null. */
function brokerUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // what the client would make of it: `mqtt://user:pa/ss@host` is host "user", port "pa"
    return url.includes('@') ? "it does not parse as a URL; write '/', '#', '?' or '@' in a user name or password as %2F, %23, %3F, %40" : 'it does not parse as a URL';
  }
  if (u.hostname === '') return 'it names no host';
  // an explicit port: URL refuses > 65535 itself, but keeps 0
  if (u.port === '0') return 'port 0 is not a port a broker listens on';
  return null;
}

/** Every problem in the merged configuration tree, as user-facing lines; empty when valid. */
export function validateConfig(tree: unknown, originOf: (path: string) => string): string[] {
  const v = validator();
  const out: string[] = [];
  if (!v(tree)) {
    const seen = new Set<string>();
    for (const e of v.errors ?? []) {
      const line = describeError(e, tree, originOf);
      if (line && !seen.has(line)) { seen.add(line); out.push(line); }
    }
    return out;
  }
  return crossChecks(tree as Record<string, Record<string, unknown>>, originOf);
}
