import { readFileSync } from 'node:fs';
import { hostname as osHostname, homedir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { EdgefitError, errorMessage } from '../util/errors.js';
import type { Config, ConfigSource } from './types.js';
import { fields, fieldByEnv, fieldByPath, childKeys, schemaAt, parseText, suggest, ENV_PREFIX, type Field } from './fields.js';
import { validateConfig } from './validate.js';

export interface LoadOptions {
  /** YAML or JSON file (".json" is parsed as JSON, anything else as YAML); defaults to $EDGEFIT_CONFIG */
  file?: string;
  /** the environment to read EDGEFIT_* from; default: none (pass process.env explicitly) */
  env?: NodeJS.ProcessEnv;
  /** dotted path -> value, from `--set path=value` or the daemon's own flags; text is parsed by the field type */
  overrides?: Record<string, unknown>;
  /** for tests: what the automatic deviceId and stateDir are derived from */
  host?: { hostname?: string; isRoot?: boolean; home?: string };
}

export interface LoadedConfig {
  config: Config;
  /** every leaf path -> where its value came from */
  sources: Record<string, ConfigSource>;
  /** the configuration file read, if any */
  file?: string;
}

/**
 * EDGEFIT_* variables that are not configuration settings, so they are not refused as typos.
 * EDGEFIT_TEST_* is reserved for test harnesses. EDGEFIT_DASHBOARD_*: `edgefit dashboard`'s credentials
 * (src/dashboard/guard.ts), which may share an environment file with the daemon. EDGEFIT_NOTIFY_FD: set by
 * bin/edgefit-notify-exec.
 */
/** Variables that were read outside the configuration before they became settings: refused, naming the new one. */
const renamedEnv: Readonly<Record<string, string>> = { EDGEFIT_FFMPEG: 'EDGEFIT_CAMERA_FFMPEG_PATH' };

export const nonConfigEnv: readonly string[] = ['EDGEFIT_CONFIG', 'EDGEFIT_SHARED_DATA', 'EDGEFIT_NOTIFY_FD', 'EDGEFIT_DASHBOARD_TOKEN', 'EDGEFIT_DASHBOARD_USER', 'EDGEFIT_DASHBOARD_PASSWORD'];

type Tree = Record<string, unknown>;

function isPlainObject(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setAt(tree: Tree, segments: readonly string[], value: unknown): void {
  let node = tree;
  for (const s of segments.slice(0, -1)) node = node[s] as Tree;
  node[segments[segments.length - 1]!] = value;
}

export function getAt(tree: unknown, segments: readonly string[]): unknown {
  let node = tree;
  for (const s of segments) {
    if (!isPlainObject(node)) return undefined;
    node = node[s];
  }
  return node;
}

export function defaultTree(): Tree {
  const t: Tree = {};
  for (const f of fields) {
    let node = t;
    for (const s of f.segments.slice(0, -1)) node = (node[s] ??= {}) as Tree;
    node[f.segments[f.segments.length - 1]!] = structuredClone(f.schema.default);
  }
  return t;
}

/** The host name reduced to what a deviceId accepts (letters, digits, '.', '_', '-'). */
export function sanitiseDeviceId(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 64);
  return s || 'edgefit';
}

export function defaultStateDir(env: NodeJS.ProcessEnv, isRoot: boolean, home: string): string {
  if (isRoot) return '/var/lib/edgefit';
  const xdg = env.XDG_STATE_HOME;
  return xdg && xdg.startsWith('/') ? join(xdg, 'edgefit') : join(home, '.local', 'state', 'edgefit');
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new EdgefitError('E_CONFIG', `config: cannot read ${file} (${errorMessage(err)}); check the --config path`, { cause: err });
  }
  const json = extname(file).toLowerCase() === '.json';
  try {
    // yaml is loaded only for a YAML file (it costs ~9 MB of a small board's memory)
    return json ? JSON.parse(text) as unknown : (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text) as unknown;
  } catch (err) {
    throw new EdgefitError('E_CONFIG', `config: ${file} is not valid ${json ? 'JSON' : 'YAML'}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Builds the effective configuration: built-in defaults < file < EDGEFIT_* environment < overrides (flags),
 * then validates it once. Throws an EdgefitError (code E_CONFIG) listing every problem, each naming the field
 * path, the accepted values, the offending value and where it came from.
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? {};
  const tree = defaultTree();
  const sources: Record<string, ConfigSource> = Object.fromEntries(fields.map((f) => [f.path, 'default' as ConfigSource]));
  const origin = new Map<string, string>();
  const problems: string[] = [];

  const file = opts.file ?? (env.EDGEFIT_CONFIG || undefined);
  if (file) {
    const data = readConfigFile(file);
    const from = `from ${file}`;
    if (data === null || data === undefined) { /* an empty file is an empty configuration */ }
    else if (!isPlainObject(data)) problems.push(`config: the top level of ${file} must be a mapping of settings (got ${describe(data)})`);
    else mergeFile(data, [], tree, sources, origin, problems, from);
  }

  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    const field = fieldByEnv.get(name);
    if (!field) {
      if (nonConfigEnv.includes(name) || name.startsWith('EDGEFIT_TEST_')) continue;
      const hint = renamedEnv[name] ?? suggest(name, [...fieldByEnv.keys()]);
      problems.push(`config: environment variable ${name} is not a setting${hint ? ` — did you mean ${hint}?` : ''} (variables are EDGEFIT_ + the setting path in UPPER_SNAKE, e.g. EDGEFIT_MQTT_URL)`);
      continue;
    }
    setAt(tree, field.segments, parseText(field, raw));
    sources[field.path] = 'env';
    origin.set(field.path, `from ${name}`);
  }

  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    const field = fieldByPath.get(path);
    if (!field) {
      const hint = suggest(path, [...fieldByPath.keys()]);
      problems.push(`config: --set ${path}: not a setting${hint ? ` — did you mean ${hint}?` : ''} (see \`edgefit config --print\` for every path)`);
      continue;
    }
    setAt(tree, field.segments, typeof value === 'string' ? parseText(field, value) : value);
    sources[field.path] = 'flag';
    origin.set(field.path, 'from the command line');
  }

  if (problems.length > 0) throw configError(problems);

  const host = opts.host ?? {};
  if (tree.deviceId === '') tree.deviceId = sanitiseDeviceId(host.hostname ?? osHostname());
  const home = host.home ?? homedir();
  const isRoot = host.isRoot ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  if (tree.stateDir === '') tree.stateDir = defaultStateDir(env, isRoot, home);
  else if (typeof tree.stateDir === 'string') {
    const s = tree.stateDir;
    tree.stateDir = resolve(s === '~' ? home : s.startsWith('~/') ? join(home, s.slice(2)) : s);
  }

  problems.push(...validateConfig(tree, (path) => origin.get(path) ?? '(built-in default)'));
  if (problems.length > 0) throw configError(problems);
  return { config: tree as unknown as Config, sources, ...(file ? { file } : {}) };
}

function configError(problems: string[]): EdgefitError {
  return new EdgefitError('E_CONFIG', problems.join('\n'));
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a mapping' : JSON.stringify(v);
}

function mergeFile(data: Tree, prefix: string[], tree: Tree, sources: Record<string, ConfigSource>, origin: Map<string, string>, problems: string[], from: string): void {
  for (const [key, value] of Object.entries(data)) {
    const segments = [...prefix, key];
    const path = segments.join('.');
    const node = schemaAt(segments);
    if (!node) {
      const siblings = childKeys(prefix);
      const hint = suggest(key, siblings);
      const where = prefix.length ? `${prefix.join('.')}.${key}` : key;
      problems.push(`config: ${where} is not a setting${hint ? ` — did you mean ${[...prefix, hint].join('.')}?` : ''} (known here: ${siblings.join(', ')}) — ${from}`);
      continue;
    }
    if (node.type === 'object') {
      if (value === null || value === undefined) continue;
      if (!isPlainObject(value)) {
        problems.push(`config: ${path} must be a mapping with keys ${childKeys(segments).join(', ')} (got ${describe(value)}) — ${from}`);
        continue;
      }
      mergeFile(value, segments, tree, sources, origin, problems, from);
      continue;
    }
    const field = fieldByPath.get(path) as Field;
    setAt(tree, field.segments, value);
    sources[path] = 'file';
    origin.set(path, from);
  }
}
