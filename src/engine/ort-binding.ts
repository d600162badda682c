import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import { EdgefitError, errorMessage } from '../util/errors.js';

/** onnxruntime-node's module surface (InferenceSession, Tensor, env, listSupportedBackends). */
export type OrtNodeModule = typeof OrtModule;

export interface LoadedOrtBinding {
  ort: OrtNodeModule;
  /** 'bundled': the onnxruntime-node dependency; 'package': a built onnxruntime-node package; 'binary': a binding + library directory */
  kind: 'bundled' | 'package' | 'binary';
  /** what was loaded: the package or binary directory ('' for bundled) */
  path: string;
  /** onnxruntime-node's version as the loaded module reports it */
  version: string;
}

export interface LoadOrtBindingOptions {
  /** where the private package tree for a binary directory is assembled (default: <tmpdir>/edgefit-ort-binding) */
  cacheDir?: string;
}

const BINDING = 'onnxruntime_binding.node';
const LIBRARY = /^libonnxruntime\.so(\.\d+)*$/;
const cache = new Map<string, LoadedOrtBinding>();
const requireHere = createRequire(import.meta.url);

function fail(path: string, what: string, cause?: unknown): never {
  throw new EdgefitError(
    'E_ORT_BINDING',
    `engine.ortLibraryPath ${path}: ${what}. Point it at an onnxruntime-node package built from source (the js/node directory of a ` +
      `\`./build.sh --build_shared_lib --build_nodejs --use_cuda --use_tensorrt\` build, or the package installed from its \`npm pack\`), ` +
      `or at a directory holding ${BINDING} and libonnxruntime.so.1 from such a build; leave it empty for the bundled onnxruntime-node`,
    cause === undefined ? undefined : { cause },
  );
}

function checkModule(mod: unknown, path: string): OrtNodeModule {
  const m = (mod as { default?: unknown })?.default && typeof (mod as { listSupportedBackends?: unknown }).listSupportedBackends !== 'function'
    ? (mod as { default: unknown }).default
    : mod;
  const o = m as Partial<OrtNodeModule> | undefined;
  if (!o || typeof o.listSupportedBackends !== 'function' || typeof o.InferenceSession?.create !== 'function' || typeof o.Tensor !== 'function') {
    fail(path, 'the module loaded but does not export InferenceSession, Tensor and listSupportedBackends() like onnxruntime-node does (an onnxruntime-node older than 1.17, or another package)');
  }
  return o as OrtNodeModule;
}

function versionOf(ort: OrtNodeModule): string {
  return ort.env?.versions?.node ?? ort.env?.versions?.common ?? 'unknown';
}

/** The directory holding the binding: the path itself, or onnxruntime-node's bin/napi-v6/<platform>/<arch> below it. */
function findBindingDir(dir: string): string | null {
  if (existsSync(join(dir, BINDING))) return dir;
  const nested = join(dir, 'bin', 'napi-v6', process.platform, process.arch);
  return existsSync(join(nested, BINDING)) ? nested : null;
}

function readPackageName(dir: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name ?? null;
  } catch {
    return null;
  }
}

/** The directory of the package `name` that holds `file` (its package.json is not exported, so walk up). */
function packageRoot(file: string, name: string): string {
  let dir = dirname(file);
  while (dir !== dirname(dir)) {
    if (readPackageName(dir) === name) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the ${name} package directory above ${file}`);
}

/**
 * Assembles <cacheDir>/<key>/node_modules/onnxruntime-node: the bundled package's JavaScript with the custom binary
 * linked in as its bin/napi-v6/<platform>/<arch>, and a private copy of onnxruntime-common. The copy matters: the
 * JavaScript registers its backends and defines env.versions.node on the onnxruntime-common instance it loads,
 * which fails (or would mix two native runtimes) if it shared the bundled package's instance.
 */
function assembleTree(binDir: string, cacheDir: string): string {
  const nodePkg = dirname(requireHere.resolve('onnxruntime-node/package.json'));
  const commonPkg = packageRoot(createRequire(join(nodePkg, 'package.json')).resolve('onnxruntime-common'), 'onnxruntime-common');
  // every shared library of the build: libonnxruntime finds its provider libraries (libonnxruntime_providers_cuda.so,
  // _tensorrt.so, _shared.so) in the directory it was loaded from, which is this tree
  const libs = readdirSync(binDir).filter((f) => /\.so(\.\d+)*$/.test(f));
  const stamp = [binDir, ...[BINDING, ...libs].map((f) => `${f}:${statSync(join(binDir, f)).mtimeMs}:${statSync(join(binDir, f)).size}`), nodePkg].join('|');
  const key = createHash('sha256').update(stamp).digest('hex').slice(0, 16);
  const root = join(cacheDir, key);
  const pkg = join(root, 'node_modules', 'onnxruntime-node');
  if (existsSync(join(pkg, 'package.json'))) return pkg;
  const tmp = `${root}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const tpkg = join(tmp, 'node_modules', 'onnxruntime-node');
  mkdirSync(tpkg, { recursive: true });
  cpSync(join(nodePkg, 'package.json'), join(tpkg, 'package.json'));
  cpSync(join(nodePkg, 'dist'), join(tpkg, 'dist'), { recursive: true });
  cpSync(commonPkg, join(tmp, 'node_modules', 'onnxruntime-common'), { recursive: true });
  const bin = join(tpkg, 'bin', 'napi-v6', process.platform, process.arch);
  mkdirSync(bin, { recursive: true });
  // links, not copies: a CUDA/TensorRT libonnxruntime is hundreds of MB; the binding finds it through $ORIGIN
  for (const f of [BINDING, ...libs]) symlinkSync(join(binDir, f), join(bin, f));
  mkdirSync(dirname(root), { recursive: true });
  try {
    renameSync(tmp, root);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(pkg, 'package.json'))) throw err; // another process won the race otherwise
  }
  return pkg;
}

/** Where a custom binding is, as engine.ortLibraryPath names it (resolved and checked, nothing loaded). */
interface ResolvedBinding { kind: 'package' | 'binary'; dir: string; binDir: string }

/** The checks of loadOrtBinding that need no loading: what `raw` names, or an E_ORT_BINDING error saying what is missing. */
function resolveBinding(raw: string): ResolvedBinding {
  const abs = resolve(raw);
  if (!existsSync(abs)) fail(abs, 'does not exist');
  let dir = realpathSync(abs);
  if (statSync(dir).isFile()) {
    const name = basename(dir);
    if (name !== BINDING && !LIBRARY.test(name)) fail(abs, `is a file but neither ${BINDING} nor libonnxruntime.so*`);
    dir = dirname(dir);
  }
  if (readPackageName(dir) === 'onnxruntime-node') {
    const binDir = findBindingDir(dir);
    if (!binDir) fail(dir, `is an onnxruntime-node package without a native binding (no bin/napi-v6/${process.platform}/${process.arch}/${BINDING}): build it with --build_nodejs, or run its install script`);
    return { kind: 'package', dir, binDir };
  }
  const binDir = findBindingDir(dir);
  if (!binDir) {
    const libs = readdirSync(dir).filter((f) => LIBRARY.test(f));
    fail(dir, libs.length > 0
      ? `holds ${libs.join(', ')} but no ${BINDING}: Node cannot call a bare libonnxruntime; the binding comes from the same build (--build_nodejs), in js/node/bin/napi-v6/${process.platform}/${process.arch}/`
      : `holds neither an onnxruntime-node package.json nor ${BINDING}`);
  }
  if (!readdirSync(binDir).some((f) => /^libonnxruntime\.so\.1/.test(f))) {
    fail(binDir, `has ${BINDING} but no libonnxruntime.so.1 beside it (the binding loads it from its own directory): copy libonnxruntime.so.1 of the same build there`);
  }
  return { kind: 'binary', dir, binDir };
}

/** The native files of a binding directory: the binding and every shared library beside it (provider libraries too). */
function nativeFiles(binDir: string): string[] {
  return readdirSync(binDir).filter((f) => f === BINDING || /\.so(\.\d+)*$/.test(f)).sort();
}

let bundledVersion: string | undefined;

/** The bundled onnxruntime-node's version, from its package.json (nothing loaded). */
export function bundledOrtVersion(): string {
  bundledVersion ??= (JSON.parse(readFileSync(requireHere.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  return bundledVersion;
}

/** Which onnxruntime a path names, without loading it (a native library stays out of the caller). */
export interface OrtBindingIdentity {
  kind: LoadedOrtBinding['kind'];
  /** the package or binary directory ('' for bundled) */
  path: string;
  /** onnxruntime-node's version: the package's own, or for a binary directory the bundled JavaScript's it is wrapped in */
  version: string;
  /**
   * '' for bundled; otherwise 12 hex digits over the directory and the name, size and mtime of every native file of
   * the build (the binding, libonnxruntime, the provider libraries): a rebuild in place is another identity
   */
  id: string;
}

/**
 * The identity of the binding loadOrtBinding(path) would load, by the same rules and with the same errors
 * (E_ORT_BINDING), from the files alone: what a measurement made on it is keyed by (src/profile/cache.ts).
 */
export function ortBindingIdentity(path?: string): OrtBindingIdentity {
  const raw = (path ?? '').trim();
  if (raw === '') return { kind: 'bundled', path: '', version: bundledOrtVersion(), id: '' };
  const b = resolveBinding(raw);
  const version = b.kind === 'package'
    ? (JSON.parse(readFileSync(join(b.dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown'
    : bundledOrtVersion();
  const stamp = [b.kind, b.dir, b.binDir, ...nativeFiles(b.binDir).map((f) => { const st = statSync(join(b.binDir, f)); return `${f}:${st.size}:${st.mtimeMs}`; })];
  return { kind: b.kind, path: b.kind === 'package' ? b.dir : b.binDir, version, id: createHash('sha256').update(stamp.join('|')).digest('hex').slice(0, 12) };
}

/**
 * Loads onnxruntime's Node binding: the bundled onnxruntime-node when `path` is empty, otherwise a custom build
 * (a Jetson's CUDA/TensorRT build; see deploy/jetson/README.md). `path` may be
 *  - an onnxruntime-node package directory (package.json named onnxruntime-node, with its dependencies installed),
 *  - a directory holding onnxruntime_binding.node and libonnxruntime.so.1 (or one with bin/napi-v6/<platform>/<arch>/),
 *  - one of those two files, meaning its directory.
 * One binding per path and process (cached): native runtimes cannot be unloaded. The engine's worker
 * (src/engine/onnxruntime.ts), the provider probe (src/device/providers-child.ts) and the profiler's child
 * (src/profile/child.ts) all load it here.
 */
export async function loadOrtBinding(path?: string, opts: LoadOrtBindingOptions = {}): Promise<LoadedOrtBinding> {
  const raw = (path ?? '').trim();
  if (raw === '') {
    const hit = cache.get('');
    if (hit) return hit;
    let mod: unknown;
    try {
      mod = await import('onnxruntime-node');
    } catch (err) {
      throw new EdgefitError('E_ORT_BINDING', `onnxruntime-node did not load (${errorMessage(err)}); its prebuilt binaries need glibc 2.28 and linux x64/arm64: reinstall it (npm ci), set engine.ortLibraryPath to a build for this board, or use the tfjs engine`, { cause: err });
    }
    const ort = checkModule(mod, 'onnxruntime-node');
    const loaded: LoadedOrtBinding = { ort, kind: 'bundled', path: '', version: versionOf(ort) };
    cache.set('', loaded);
    return loaded;
  }

  const b = resolveBinding(raw);
  const dir = b.dir;
  const hit = cache.get(dir);
  if (hit) return hit;

  let loaded: LoadedOrtBinding;
  if (b.kind === 'package') {
    const req = createRequire(join(dir, 'package.json'));
    let mod: unknown;
    try {
      mod = req(dir);
    } catch (err) {
      const msg = errorMessage(err);
      if (/Cannot find module 'onnxruntime-common'/.test(msg)) fail(dir, 'its dependency onnxruntime-common is not installed: run `npm install --omit=dev` in that directory', err);
      fail(dir, `the package failed to load (${msg.split('\n')[0]}); a CUDA/TensorRT build also needs the CUDA, cuDNN and TensorRT libraries on the loader path (JetPack: /usr/local/cuda/lib64, /usr/lib/aarch64-linux-gnu)`, err);
    }
    const ort = checkModule(mod, dir);
    loaded = { ort, kind: 'package', path: dir, version: versionOf(ort) };
  } else {
    const binDir = b.binDir;
    let pkg: string;
    try {
      pkg = assembleTree(binDir, opts.cacheDir ?? join(tmpdir(), 'edgefit-ort-binding'));
    } catch (err) {
      throw new EdgefitError('E_ORT_BINDING', `engine.ortLibraryPath ${binDir}: cannot assemble a package around the binding (${errorMessage(err)}); check that ${opts.cacheDir ?? tmpdir()} is writable`, { cause: err });
    }
    let mod: unknown;
    try {
      mod = createRequire(join(pkg, 'package.json'))(pkg);
    } catch (err) {
      fail(binDir, `the binding failed to load (${errorMessage(err).split('\n')[0]}); a CUDA/TensorRT build also needs the CUDA, cuDNN and TensorRT libraries on the loader path (JetPack: /usr/local/cuda/lib64, /usr/lib/aarch64-linux-gnu), and a binding built for this onnxruntime-node's N-API/JS version`, err);
    }
    const ort = checkModule(mod, binDir);
    loaded = { ort, kind: 'binary', path: binDir, version: versionOf(ort) };
  }
  cache.set(dir, loaded);
  return loaded;
}

/** The options edgefit gives a session that must run on exactly one provider. */
export interface ProviderSessionOptions {
  executionProviders: Array<string | ({ name: string } & Record<string, unknown>)>;
  extra?: { session: { disable_cpu_ep_fallback: '1' } };
}

/**
 * Session options for one provider of the chain. GPU providers get `session.disable_cpu_ep_fallback=1` (the probe's
 * proof, src/device/providers.ts): session creation then fails instead of quietly running the nodes the GPU cannot
 * take on the CPU. TensorRT gets its engine cache and FP16 settings under the TensorRT EP's option names
 * (trt_engine_cache_enable, trt_engine_cache_path, trt_fp16_enable). Note: onnxruntime-node's binding
 * (js/node/src/session_options_helper.cc) forwards only `deviceId` of a provider object, so a stock
 * onnxruntime-node build ignores these three; a Jetson build must patch that file to forward them (deploy/jetson).
 */
export function providerSessionOptions(provider: 'cpu' | 'cuda' | 'tensorrt', opts: { trtCacheDir?: string; trtFp16?: boolean } = {}): ProviderSessionOptions {
  if (provider === 'cpu') return { executionProviders: ['cpu'] };
  const ep = provider === 'tensorrt'
    ? {
        name: 'tensorrt',
        ...(opts.trtCacheDir ? { trt_engine_cache_enable: true, trt_engine_cache_path: opts.trtCacheDir } : {}),
        ...(opts.trtFp16 ? { trt_fp16_enable: true } : {}),
      }
    : { name: provider };
  return { executionProviders: [ep], extra: { session: { disable_cpu_ep_fallback: '1' } } };
}

/**
 * The options a model's session is created with on one provider: by the engine (src/engine/onnxruntime.ts) and by
 * the profiler's child (src/profile/child.ts), so that what is measured is what runs. Nodes a GPU provider cannot
 * take may still run on the CPU here (the device probe, not a model's session, refuses a CPU fallback).
 */
export function modelSessionOptions(
  provider: 'cpu' | 'cuda' | 'tensorrt',
  o: { threads: number; trtCacheDir?: string; trtFp16?: boolean; optimization?: 'all' | 'disabled' },
): OrtModule.InferenceSession.SessionOptions {
  const ep = providerSessionOptions(provider, { ...(o.trtCacheDir ? { trtCacheDir: o.trtCacheDir } : {}), ...(o.trtFp16 ? { trtFp16: true } : {}) }).executionProviders[0];
  return {
    executionProviders: [ep as OrtModule.InferenceSession.ExecutionProviderConfig],
    graphOptimizationLevel: o.optimization ?? 'all',
    ...(o.threads > 0 ? { intraOpNumThreads: o.threads } : {}),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // a missing GPU library is expected on most boards and reported by the caller, not as an ERROR line
    ...(provider !== 'cpu' ? { logSeverityLevel: 4 as const } : {}),
  };
}
