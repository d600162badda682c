import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../../src/util/paths.js';
import type { FuzzJob, FuzzKind, FuzzReply } from './protocol.js';
import { hostileYaml, mutateBytes, mutateInside, mutateText, rng, type Ranges, type Rng } from './mutate.js';

export type IterationOutcome = 'imported' | 'refused' | 'bug' | 'crash' | 'hang';

export interface Finding {
  iteration: number;
  outcome: 'bug' | 'crash' | 'hang';
  what: string;
  message: string;
  /** the input that did it, kept for reproduction */
  file: string;
}

export interface FuzzSummary {
  target: string;
  seed: number;
  iterations: number;
  imported: number;
  refused: number;
  bugs: number;
  crashes: number;
  hangs: number;
  /** refusal codes and how often each came */
  codes: Record<string, number>;
  findings: Finding[];
  ms: number;
}

/** The compiled child: beside this file when it runs compiled, else in the tests' build (EDGEFIT_TEST_DIST) or dist/. */
export function childPath(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return join(dirname(here), 'child.js');
  return join(process.env.EDGEFIT_TEST_DIST || join(projectRoot, 'dist'), 'scripts', 'fuzz', 'child.js');
}

/**
 * Runs jobs in one long-lived child; a job that kills the child is a crash, one that takes longer than
 * `timeoutMs` is a hang (the child is killed). Either way a fresh child takes the next job.
 */
export class FuzzRunner {
  private child: ChildProcess | undefined;
  private nextId = 1;
  stderrTail = '';

  private spawn(): ChildProcess {
    const c = fork(childPath(), [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    // HDF5 prints diagnostics for every broken file: keep a tail for crash reports, not the flood
    c.stderr!.on('data', (d: Buffer) => { this.stderrTail = (this.stderrTail + d.toString()).slice(-2000); });
    c.on('error', () => undefined);
    this.child = c;
    return c;
  }

  run(kind: FuzzKind, path: string, timeoutMs: number): Promise<{ outcome: IterationOutcome; code?: string; message: string }> {
    const c = this.child && this.child.exitCode === null && this.child.connected ? this.child : this.spawn();
    const id = this.nextId++;
    this.stderrTail = '';
    return new Promise((resolve) => {
      const done = (v: { outcome: IterationOutcome; code?: string; message: string }) => {
        clearTimeout(timer);
        c.off('message', onMessage);
        c.off('exit', onExit);
        resolve(v);
      };
      const onMessage = (m: FuzzReply) => {
        if (m.id === id) done({ outcome: m.outcome, ...(m.code ? { code: m.code } : {}), message: m.message ?? '' });
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        this.child = undefined;
        done({ outcome: 'crash', message: `child ${signal ? `killed by ${signal}` : `exited ${code}`}; stderr: ${this.stderrTail.trim().split('\n').slice(-3).join(' | ')}` });
      };
      const timer = setTimeout(() => {
        c.off('exit', onExit);
        c.kill('SIGKILL');
        this.child = undefined;
        done({ outcome: 'hang', message: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      c.on('message', onMessage);
      c.once('exit', onExit);
      c.send({ id, kind, path } satisfies FuzzJob);
    });
  }

  close(): void {
    this.child?.kill('SIGKILL');
    this.child = undefined;
  }
}

/** A fuzz target: the seed inputs and how a mutant is made from them. */
export interface FuzzTarget {
  name: string;
  kind: FuzzKind;
  /** file name of a mutant (the extension picks the importer / parser) */
  fileName: string;
  mutant(r: Rng, iteration: number): { bytes: Uint8Array; what: string };
}

/** Byte ranges of an HDF5 file that hold the model_config JSON attribute (found by its opening text). */
function jsonRange(bytes: Uint8Array): [number, number] | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const start = buf.indexOf('{"class_name"');
  if (start < 0) return undefined;
  let depth = 0;
  for (let i = start; i < buf.length; i++) {
    if (buf[i] === 0x7b) depth++;
    else if (buf[i] === 0x7d && --depth === 0) return [start, i + 1];
  }
  return undefined;
}

/** Keras .h5: a third of the mutants edit the model_config JSON in place (the HDF5 stays valid), the rest the file. */
export function kerasTarget(path: string): FuzzTarget {
  const original = new Uint8Array(readFileSync(path));
  const json = jsonRange(original);
  // the superblock, root object header and the attribute heap sit in the first 64 KiB; the rest is mostly weights
  const focus: Ranges = [[0, Math.min(original.length, 65_536)], ...(json ? [json] : [])];
  return {
    name: `keras:${path.split('/').pop()}`, kind: 'keras', fileName: 'model.h5',
    mutant: (r) => (json && r() < 0.35 ? mutateInside(original, r, json[0], json[1]) : mutateBytes(original, r, focus)),
  };
}

/** ONNX pass-through: protobuf structure (everything but the initializers' raw bytes) is where edits go. */
export function onnxTarget(name: string, original: Uint8Array, weightRanges: Ranges): FuzzTarget {
  const focus: [number, number][] = [];
  let at = 0;
  for (const [a, b] of [...weightRanges].sort((x, y) => x[0] - y[0])) {
    if (a > at) focus.push([at, a]);
    at = Math.max(at, b);
  }
  if (at < original.length) focus.push([at, original.length]);
  return { name, kind: 'onnx', fileName: 'model.onnx', mutant: (r) => mutateBytes(original, r, focus) };
}

export function tfliteTarget(path: string): FuzzTarget {
  const original = new Uint8Array(readFileSync(path));
  return { name: `tflite:${path.split('/').pop()}`, kind: 'tflite', fileName: 'model.tflite', mutant: (r) => mutateBytes(original, r, [[0, Math.min(original.length, 4096)], [Math.max(0, original.length - 16_384), original.length]]) };
}

/** The config loader: YAML and JSON documents, edited token-wise, plus hostile documents now and then. */
export function configTarget(format: 'yaml' | 'json', seeds: string[]): FuzzTarget {
  return {
    name: `config:${format}`, kind: 'config', fileName: format === 'json' ? 'config.json' : 'config.yaml',
    mutant: (r) => {
      if (format === 'yaml' && r() < 0.05) {
        const h = hostileYaml(r);
        return { bytes: Buffer.from(h.text), what: h.what };
      }
      const seed = seeds[Math.floor(r() * seeds.length)]!;
      const m = mutateText(seed, r);
      return { bytes: Buffer.from(m.text), what: m.what };
    },
  };
}

/**
 * Runs `iterations` mutants of a target, each bounded by `timeoutMs`. Inputs that were not imported or refused
 * are kept in `keepDir` (when given) for reproduction; everything else is deleted as it goes.
 */
export async function fuzz(target: FuzzTarget, opts: { iterations: number; seed: number; timeoutMs: number; runner?: FuzzRunner; keepDir?: string; onIteration?: (i: number, o: IterationOutcome) => void }): Promise<FuzzSummary> {
  const runner = opts.runner ?? new FuzzRunner();
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-fuzz-'));
  const r = rng(opts.seed);
  const s: FuzzSummary = { target: target.name, seed: opts.seed, iterations: 0, imported: 0, refused: 0, bugs: 0, crashes: 0, hangs: 0, codes: {}, findings: [], ms: 0 };
  const t0 = Date.now();
  try {
    for (let i = 0; i < opts.iterations; i++) {
      const m = target.mutant(r, i);
      const file = join(dir, `${i}-${target.fileName}`);
      writeFileSync(file, m.bytes);
      const res = await runner.run(target.kind, file, opts.timeoutMs);
      s.iterations++;
      opts.onIteration?.(i, res.outcome);
      if (res.outcome === 'imported') s.imported++;
      else if (res.outcome === 'refused') { s.refused++; s.codes[res.code ?? '?'] = (s.codes[res.code ?? '?'] ?? 0) + 1; }
      else {
        if (res.outcome === 'bug') s.bugs++;
        else if (res.outcome === 'crash') s.crashes++;
        else s.hangs++;
        let kept = file;
        if (opts.keepDir) { kept = join(opts.keepDir, `${target.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${opts.seed}-${i}-${target.fileName}`); writeFileSync(kept, m.bytes); }
        s.findings.push({ iteration: i, outcome: res.outcome, what: m.what, message: res.message, file: kept });
        continue;
      }
      rmSync(file, { force: true });
    }
  } finally {
    if (!opts.runner) runner.close();
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
    s.ms = Date.now() - t0;
  }
  return s;
}

/** A small real ONNX classifier (zoo MobileNet-v1 0.25 at 64 px, 10 classes) and where its weight bytes are. */
export async function onnxSeed(): Promise<{ bytes: Uint8Array; weightRanges: Ranges }> {
  const { buildGraph } = await import('../../src/zoo/registry.js');
  const { emitOnnx } = await import('../../src/onnx/emit.js');
  const { readOnnx } = await import('../../src/onnx/reader.js');
  const bytes = emitOnnx(buildGraph({ family: 'mobilenet_v1', alpha: 0.25, resolution: 64, classes: 10, seed: 1 }), { input: 'uint8-nhwc', dynamicResolution: true });
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const ranges: [number, number][] = [];
  for (const t of readOnnx(bytes).graph!.initializer ?? []) {
    const raw = t.rawData;
    if (!raw || raw.length < 64) continue;
    const at = buf.indexOf(Buffer.from(raw.subarray(0, 32)));
    if (at >= 0) ranges.push([at, at + raw.length]);
  }
  return { bytes, weightRanges: ranges };
}
