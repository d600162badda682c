import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { pullModels } from '../../src/catalog/pull.js';
import { buildLadder } from '../../src/catalog/ladder.js';
import type { Variant } from '../../src/catalog/types.js';
import { buildGraph } from '../../src/zoo/registry.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { loadImageRgb } from '../../src/image/load.js';
import { listImages } from '../../src/quant/frames.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';

/** What a section reports: a table for the console, targets for docs/performance.md, raw figures for the JSON. */
export interface Target {
  what: string;
  target: string;
  measured: string;
  /** null: not applicable / could not be measured */
  met: boolean | null;
}

export interface SectionResult {
  name: string;
  title: string;
  table: string;
  targets: Target[];
  notes: string[];
  data: unknown;
}

export interface BenchOptions {
  /** shorter runs everywhere (smoke test of the suite itself) */
  quick: boolean;
  /** keep the pulled state and generated models between runs (artifacts/bench-work) */
  workDir: string;
  log: (line: string) => void;
}

export type Section = (ctx: BenchContext) => Promise<SectionResult>;

/** The CPU facts the figures depend on. */
export function machineFacts(): { cpu: string; cores: number; vnni: boolean; avx2: boolean; avx512: boolean; memMb: number; node: string; ort: string; loadavg: string } {
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    flags = /^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? /^Features\s*:\s*(.*)$/m.exec(info)?.[1] ?? '';
  } catch { /* not Linux */ }
  const f = new Set(flags.split(/\s+/));
  let load = '';
  try { load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '); } catch { /* not Linux */ }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    vnni: f.has('avx512_vnni') || f.has('avx_vnni') || f.has('asimddp'),
    avx2: f.has('avx2'),
    avx512: f.has('avx512f'),
    memMb: Math.round(totalmem() / 1048576),
    node: process.version,
    ort: ort.env.versions?.common ?? 'unknown',
    loadavg: load,
  };
}

/** Shared, lazily prepared inputs of the sections: the pulled ladder, zoo models, calibration photos. */
export class BenchContext {
  readonly stateDir: string;
  readonly zooDir: string;
  private ladderP: Promise<Variant[]> | undefined;

  constructor(readonly o: BenchOptions) {
    this.stateDir = join(o.workDir, 'state');
    this.zooDir = join(o.workDir, 'zoo');
    mkdirSync(this.stateDir, { recursive: true });
    mkdirSync(this.zooDir, { recursive: true });
  }

  get quick(): boolean { return this.o.quick; }
  log(line: string): void { this.o.log(line); }

  config(overrides: Record<string, unknown> = {}): Config {
    return loadConfig({ env: {}, overrides: { stateDir: this.stateDir, ...overrides }, host: { hostname: 'bench', isRoot: false, home: this.o.workDir } }).config;
  }

  /** The real ladder: catalog models pulled from the shared data as a mirror directory, converted once. */
  ladder(): Promise<Variant[]> {
    this.ladderP ??= (async () => {
      const config = this.config();
      const report = await pullModels(config, { mirror: sharedData });
      if (!report.ok) this.log(`bench: some catalog models did not pull: ${report.items.filter((i) => i.status === 'failed').map((i) => i.id).join(', ')}`);
      const ladder = await buildLadder(config, { log: (l) => this.log(`ladder: ${l}`) });
      if (ladder.length === 0) throw new Error('the ladder is empty: check ../shared/data (EDGEFIT_SHARED_DATA)');
      return ladder;
    })();
    return this.ladderP;
  }

  /** A zoo MobileNet-v1 (seeded random weights, uint8 NHWC input) as an ONNX file, written once. */
  async zooModel(alpha: number, resolution: number): Promise<string> {
    const path = join(this.zooDir, `mobilenet_v1-${alpha}-${resolution}-fp32.onnx`);
    if (!existsSync(path)) {
      const g = buildGraph({ family: 'mobilenet_v1', alpha, resolution, classes: 1000, seed: 0, options: { softmax: true } });
      await writeFileAtomic(path, emitOnnx(g, { input: 'uint8-nhwc' }));
    }
    return path;
  }

  /**
   * The zoo model quantized by src/quant (calibrated on the shared calibration photos); undefined when the
   * quantizer is not usable (it is being written by another engineer) with the reason logged.
   */
  async zooInt8(alpha: number, resolution: number, opts: { method?: 'minmax' | 'percentile'; weightBits?: 8 | 7 } = {}): Promise<string | undefined> {
    const method = opts.method ?? 'percentile';
    const bits = opts.weightBits ?? 8;
    const path = join(this.zooDir, `mobilenet_v1-${alpha}-${resolution}-int8-${method}-w${bits}.onnx`);
    if (existsSync(path)) return path;
    const float = readFileSync(await this.zooModel(alpha, resolution));
    try {
      const q = await import('../../src/quant/index.js');
      const r = await q.quantizeModel(float, { calib: join(sharedData, 'images/calib'), method, weightBits: bits, resolution });
      await writeFileAtomic(path, r.onnx);
      return path;
    } catch (err) {
      this.log(`bench: src/quant could not quantize mobilenet_v1 ${alpha}/${resolution}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Real photos at the given resolution (the test set), to feed as frames. */
  async photos(resolution: number, max = 8): Promise<Uint8Array[]> {
    const files = (await listImages(join(sharedData, 'images/test'))).slice(0, max);
    return Promise.all(files.map((f) => loadImageRgb(f, resolution)));
  }
}

export function defaultWorkDir(): string {
  return join(projectRoot, 'artifacts', 'bench-work');
}

export function listDirSafe(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}
