/**
 * Host-side checker of the arm64 parity job. Compares the emulated arm64 runs (one report per CPU model) with the
 * committed goldens, with each other, with an exact integer reference of every quantized conv, and with the x64
 * run on the same bytes; prints a table and exits non-zero naming what differs.
 * usage: node dist/scripts/arm64/check.js --work DIR --golden FILE [--update] REPORT.json...
 *   the first report labelled x64 is the host run; the others are arm64 runs labelled arm64-<qemu cpu>.
 *   --update writes FILE from the arm64 runs, only when they agree with each other and with the reference.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readOnnx } from '../../src/onnx/reader.js';
import { projectRoot } from '../../src/util/paths.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { compareConv, findQConvs } from './intref.js';
import { MANIFEST, type Manifest, type ModelEntry, type ModelRun, type RunReport, type TapRecord } from './manifest.js';

export interface Check {
  area: string;
  what: string;
  ok: boolean;
  /** informational checks are printed but never fail the job */
  info?: boolean;
  detail: string;
}

export interface GoldenModel {
  source: string;
  onnxSha256: string;
  frames: Record<string, { pixelsSha256: string; output: number[] }>;
  taps: { frame: string; sha256: Record<string, string> };
}

export interface Golden {
  note: string;
  justification: string[];
  recordedWith: { ortVersion: string; nodeVersion: string; cpus: string[] };
  models: Record<string, GoldenModel>;
}

/** What the device probe must report under each emulated CPU model (QEMU derives HWCAP from -cpu). */
export const EXPECTED_CPU: Record<string, { model: string; asimddp: boolean; kernel: string }> = {
  'cortex-a53': { model: 'Cortex-A53', asimddp: false, kernel: 'arm-neon' },
  'cortex-a72': { model: 'Cortex-A72', asimddp: false, kernel: 'arm-neon' },
  'cortex-a76': { model: 'Cortex-A76', asimddp: true, kernel: 'arm-dotprod' },
};

export const FP32_REL_TOL = 1e-4;

const argmax = (a: readonly number[]): number => a.reduce((best, v, i) => (v > a[best]! ? i : best), 0);

function firstDiff(a: readonly number[], b: readonly number[]): string {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  let n = 0;
  let first = -1;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      n++;
      if (first < 0) first = i;
      max = Math.max(max, Math.abs(a[i]! - b[i]!));
    }
  }
  return n === 0 ? 'identical' : `${n} of ${a.length} values differ (first at ${first}: ${a[first]} vs ${b[first]}; max |diff| ${max})`;
}

/** Largest |a-b| relative to the largest |b| (probabilities near 0 must not blow the ratio up). */
export function relDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Infinity;
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const floor = Math.max(Math.abs(b[i]!), scale * 1e-3);
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (floor > 0 ? floor : 1));
  }
  return worst;
}

function tapShas(taps: TapRecord[] | undefined): Record<string, string> {
  return Object.fromEntries((taps ?? []).map((t) => [t.name, t.sha256]));
}

function sameTaps(a: Record<string, string>, b: Record<string, string>): string {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  const differ = [...names].filter((n) => a[n] !== b[n]);
  return differ.length === 0 ? 'identical' : `${differ.length} of ${names.size} tensors differ (first: ${differ[0]})`;
}

/** Every quantized conv of the model recomputed exactly from the run's own input tensors. */
async function referenceCheck(work: string, m: ModelEntry, taps: TapRecord[]): Promise<{ convs: number; values: number; bad: string[]; skipped: string[] }> {
  const model = readOnnx(await readFile(join(work, m.file)), m.file);
  const { convs, skipped } = findQConvs(model);
  const byName = new Map(taps.map((t) => [t.name, t]));
  const bad: string[] = [];
  let values = 0;
  const view = async (t: TapRecord) => {
    const b = await readFile(join(work, t.file));
    return t.type === 'int8' ? new Int8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  for (const c of convs) {
    const xt = byName.get(c.xName);
    const yt = byName.get(c.yName);
    if (!xt || !yt) {
      bad.push(`${c.name}: tensor ${!xt ? c.xName : c.yName} was not captured`);
      continue;
    }
    const r = compareConv(c, await view(xt), xt.dims, await view(yt), yt.dims);
    values += r.values;
    if (r.mismatches > 0) bad.push(`${c.name}: ${r.mismatches} of ${r.values} values differ (max ${r.maxDiff})`);
  }
  return { convs: convs.length, values, bad, skipped };
}

/**
 * Where x64 and arm64 part ways, in words: which frames differ and, from the conv tensors of the taps frame, the
 * first tensor that differs and the op that produced it (a conv, or a float-computed op such as a residual Add).
 */
async function explainX64(work: string, m: ModelEntry, armLabel: string, arm: ModelRun, host: ModelRun): Promise<string> {
  const differ = m.frames.filter((f) => firstDiff(arm.outputs[f.name]!, host.outputs[f.name]!) !== 'identical');
  if (differ.length === 0) return `bit-identical to ${armLabel} on ${m.frames.length} photos`;
  const parts = differ.map((f) => `${f.name}: ${firstDiff(host.outputs[f.name]!, arm.outputs[f.name]!)}`);
  const hostTaps = tapShas(host.taps);
  const first = (arm.taps ?? []).find((t) => hostTaps[t.name] !== t.sha256);
  if (!first) return `${parts.join('; ')}; conv tensors on ${m.tapsFrame} identical`;
  const model = readOnnx(await readFile(join(work, m.file)), m.file);
  const producer = new Map<string, { opType: string; input: string[] }>();
  for (const n of model.graph?.node ?? []) for (const o of n.output ?? []) producer.set(o, { opType: n.opType ?? '?', input: n.input ?? [] });
  const q = producer.get(first.name);
  const op = q?.opType === 'QuantizeLinear' ? producer.get(q.input[0]!)?.opType ?? '?' : q?.opType ?? 'graph input';
  return `${parts.join('; ')}; on ${m.tapsFrame} the first differing tensor is ${first.name}, produced by ${op}`
    + `${op !== 'Conv' ? ' (not a conv: a float-computed op whose kernels differ between x64 and arm64; the integer reference rows cover the convs)' : ''}`;
}

export interface CheckResult {
  checks: Check[];
  golden: Golden | null;
}

export async function checkParity(work: string, reports: RunReport[], golden: Golden | null): Promise<CheckResult> {
  const manifest = JSON.parse(await readFile(join(work, MANIFEST), 'utf8')) as Manifest;
  const x64 = reports.find((r) => r.nodeArch === 'x64');
  const arms = reports.filter((r) => r.nodeArch === 'arm64');
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);
  if (arms.length === 0) add({ area: 'setup', what: 'arm64 reports', ok: false, detail: 'no report ran under arm64 node (process.arch)' });
  if (!x64) add({ area: 'setup', what: 'x64 report', ok: false, detail: 'no x64 host report to compare with' });

  // device probe under each emulated CPU
  for (const r of arms) {
    const cpu = r.label.replace(/^arm64-/, '');
    const want = EXPECTED_CPU[cpu];
    const d = r.device;
    const got = `arch ${d.arch}, ${d.cpuModel} x${d.cores}, asimd ${d.features['asimd']}, asimddp ${d.features['asimddp']}, int8 ${d.int8Kernel}${d.int8Exact ? ' (exact)' : ''}, providers ${d.providersUsable.join(',')}, daemon runs on ${d.daemonProviders.join(',')}`;
    const ok = !!want && d.arch === 'arm64' && d.cpuModel === want.model && d.features['asimd'] === true && d.features['asimddp'] === want.asimddp
      && d.int8Kernel === want.kernel && d.int8Exact && d.providersUsable.includes('cpu') && d.daemonProviders.join() === 'cpu';
    add({ area: 'probe', what: cpu, ok, detail: want ? got : `${got}; no expectation for CPU ${cpu}` });
  }

  const fresh: Golden = {
    note: 'arm64 int8 outputs of edgefit-imported TFLite models (raw uint8 scores) run by OrtEngine (CPU, 1 thread) under qemu-aarch64; scripts/arm64/parity.sh',
    justification: [],
    recordedWith: { ortVersion: arms[0]?.ortVersion ?? '?', nodeVersion: arms[0]?.nodeVersion ?? '?', cpus: arms.map((r) => r.label) },
    models: {},
  };
  let updatable = arms.length >= 2;

  for (const m of manifest.models) {
    const runs = arms.map((r) => ({ r, run: r.models[m.id] }));
    const missing = runs.filter((x) => !x.run).map((x) => x.r.label);
    if (missing.length > 0 || !x64?.models[m.id]) {
      add({ area: m.id, what: 'ran', ok: false, detail: `no result from ${[...missing, ...(x64?.models[m.id] ? [] : ['x64'])].join(', ')}` });
      updatable = false;
      continue;
    }
    const ref = runs[0]!;
    const hostRun = x64.models[m.id]!;
    for (const x of runs) {
      if (x.run!.provider !== 'cpu') add({ area: m.id, what: `${x.r.label} provider`, ok: false, detail: `ran on ${x.run!.provider}, expected cpu` });
    }
    if (m.precision === 'fp32') {
      for (const x of runs) {
        for (const f of m.frames) {
          const rd = relDiff(x.run!.outputs[f.name]!, hostRun.outputs[f.name]!);
          add({ area: m.id, what: `${x.r.label} vs x64 (${f.name})`, ok: rd <= FP32_REL_TOL, detail: `max relative diff ${rd.toExponential(2)} (tolerance ${FP32_REL_TOL})` });
        }
      }
      for (const x of runs.slice(1)) {
        const d = firstDiff(x.run!.outputs[m.frames[0]!.name]!, ref.run!.outputs[m.frames[0]!.name]!);
        add({ area: m.id, what: `${x.r.label} vs ${ref.r.label}`, ok: true, info: true, detail: `fp32 ${d}` });
      }
      continue;
    }

    // int8: every arm64 CPU agrees exactly
    for (const x of runs.slice(1)) {
      const diffs = m.frames.map((f) => `${f.name}: ${firstDiff(x.run!.outputs[f.name]!, ref.run!.outputs[f.name]!)}`).filter((s) => !s.endsWith('identical'));
      const taps = sameTaps(tapShas(x.run!.taps), tapShas(ref.run!.taps));
      const ok = diffs.length === 0 && taps === 'identical';
      if (!ok) updatable = false;
      add({ area: m.id, what: `${x.r.label} == ${ref.r.label}`, ok, detail: ok ? `${m.frames.length} outputs and ${ref.run!.taps?.length ?? 0} conv tensors bit-identical` : [...diffs, `taps ${taps}`].join('; ') });
    }
    // the tap model computes what the real model computes
    for (const x of runs) {
      const d = firstDiff(x.run!.tapsScores ?? [], x.run!.outputs[m.tapsFrame!] ?? []);
      if (d !== 'identical') {
        updatable = false;
        add({ area: m.id, what: `${x.r.label} tap model`, ok: false, detail: `the model with conv tensors as outputs computed other scores than the model itself: ${d}` });
      }
    }
    // exact integer reference, once per distinct set of tensors
    const verified = new Map<string, string>();
    for (const x of [...runs, { r: x64, run: hostRun }]) {
      const key = JSON.stringify(tapShas(x.run!.taps));
      const done = verified.get(key);
      if (done) {
        add({ area: m.id, what: `${x.r.label} integer reference`, ok: true, info: x.r.nodeArch === 'x64', detail: `same tensors as ${done}` });
        continue;
      }
      const t0 = performance.now();
      const rc = await referenceCheck(work, m, x.run!.taps ?? []);
      const ok = rc.bad.length === 0 && rc.convs > 0;
      verified.set(key, x.r.label);
      if (!ok && x.r.nodeArch === 'arm64') updatable = false;
      const what = `${rc.convs} quantized convs${rc.skipped.length ? ` (+${rc.skipped.length} not checkable)` : ''}, ${rc.values} values`;
      add({
        area: m.id, what: `${x.r.label} integer reference`, ok, info: x.r.nodeArch === 'x64',
        detail: ok ? `${what} exact on ${m.tapsFrame} (${((performance.now() - t0) / 1000).toFixed(1)} s)` : `${what}: ${rc.bad.slice(0, 3).join('; ')}${rc.bad.length > 3 ? `; +${rc.bad.length - 3} more` : ''}`,
      });
      if (fresh.justification.length < 8 && ok && x.r.nodeArch === 'arm64') {
        fresh.justification.push(`${m.id}: ${what} recomputed exactly in integers from ${x.r.label}'s own conv inputs on ${m.tapsFrame}: 0 differences`);
      }
    }
    // against x64: the label must agree; raw equality is reported (x64 without VNNI is no int8 reference in general)
    for (const x of runs) {
      const top = m.frames.map((f) => ({ f: f.name, a: argmax(x.run!.outputs[f.name]!), b: argmax(hostRun.outputs[f.name]!) }));
      const bad = top.filter((t) => t.a !== t.b);
      add({ area: m.id, what: `${x.r.label} top-1 vs x64`, ok: bad.length === 0, detail: bad.length === 0 ? `equal on ${top.length} photos (${top.map((t) => t.a).join(', ')})` : bad.map((t) => `${t.f}: ${t.a} vs x64 ${t.b}`).join('; ') });
    }
    add({ area: m.id, what: 'raw outputs vs x64', ok: true, info: true, detail: await explainX64(work, m, ref.r.label, ref.run!, hostRun) });

    // the committed goldens
    const gm = golden?.models[m.id];
    fresh.models[m.id] = {
      source: m.source, onnxSha256: m.onnxSha256,
      frames: Object.fromEntries(m.frames.map((f) => [f.name, { pixelsSha256: f.pixelsSha256, output: ref.run!.outputs[f.name]! }])),
      taps: { frame: m.tapsFrame!, sha256: tapShas(ref.run!.taps) },
    };
    if (!gm) {
      add({ area: m.id, what: 'golden', ok: false, detail: 'no golden recorded for this model: run scripts/arm64/parity.sh --update after checking the other rows' });
      continue;
    }
    if (gm.onnxSha256 !== m.onnxSha256) {
      add({ area: m.id, what: 'golden: imported ONNX', ok: false, detail: `the importer now emits a different model (sha256 ${m.onnxSha256.slice(0, 12)} vs golden ${gm.onnxSha256.slice(0, 12)}): if intended, re-record with --update` });
    }
    for (const x of runs) {
      const diffs: string[] = [];
      for (const f of m.frames) {
        const g = gm.frames[f.name];
        if (!g) diffs.push(`${f.name}: not in the golden`);
        else if (g.pixelsSha256 !== f.pixelsSha256) diffs.push(`${f.name}: input pixels changed (decoder/resize, not the runtime)`);
        else {
          const d = firstDiff(x.run!.outputs[f.name]!, g.output);
          if (d !== 'identical') diffs.push(`${f.name}: ${d}`);
        }
      }
      const taps = gm.taps.frame === m.tapsFrame ? sameTaps(tapShas(x.run!.taps), gm.taps.sha256) : 'taps frame changed';
      if (taps !== 'identical') diffs.push(`conv tensors: ${taps}`);
      add({ area: m.id, what: `${x.r.label} == golden`, ok: diffs.length === 0, detail: diffs.length === 0 ? `bit-exact (${m.frames.length} outputs, ${Object.keys(gm.taps.sha256).length} conv tensors)` : diffs.join('; ') });
    }
  }

  // the x64 goldens the TFLite importer tests record, where the pixels are the same
  const tfl = join(projectRoot, 'tests', 'golden', 'tflite-outputs.json');
  if (existsSync(tfl) && arms[0]) {
    const g = JSON.parse(await readFile(tfl, 'utf8')) as { models: Record<string, Record<string, { pixelsSha256: string; output: number[] }>> };
    let same = 0, differ = 0, compared = 0;
    for (const m of manifest.models) {
      const gm = g.models[`${m.id}.tflite`];
      if (!gm) continue;
      for (const f of m.frames) {
        const e = gm[f.name];
        if (!e || e.pixelsSha256 !== f.pixelsSha256) continue;
        compared++;
        if (firstDiff(arms[0].models[m.id]!.outputs[f.name]!, e.output) === 'identical') same++;
        else differ++;
      }
    }
    add({ area: 'x64 goldens', what: 'tests/golden/tflite-outputs.json', ok: true, info: true, detail: compared === 0 ? 'no frame with the same pixels to compare' : `${same} of ${compared} arm64 outputs identical to the x64 goldens${differ ? ` (${differ} differ)` : ''}` });
  }

  if (updatable) {
    fresh.justification.unshift(`${arms.map((r) => r.label).join(' and ')} (different int8 kernels: NEON vs dot product) produced bit-identical outputs and conv tensors`);
    return { checks, golden: fresh };
  }
  return { checks, golden: null };
}

function table(checks: Check[]): string {
  const rows = checks.map((c) => [c.ok ? (c.info ? 'info' : 'ok') : 'FAIL', c.area, c.what, c.detail]);
  const w = [0, 1, 2].map((i) => Math.min(44, Math.max(...rows.map((r) => r[i]!.length))));
  return rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padEnd(w[2]!)}  ${r[3]}`).join('\n');
}

function timingTable(reports: RunReport[], manifest: Manifest): string {
  const lines = [`${'run'.padEnd(18)} ${'total s'.padStart(8)} ${'start s'.padStart(8)} ${'probe s'.padStart(8)}  per model: load / mean inference (ms)`];
  for (const r of reports) {
    const per = manifest.models.map((m) => {
      const run = r.models[m.id];
      if (!run) return `${m.id}: -`;
      const inf = Object.values(run.inferMs);
      return `${m.id.split('_').slice(0, 3).join('_')}: ${run.loadMs.toFixed(0)} / ${(inf.reduce((a, b) => a + b, 0) / inf.length).toFixed(0)}`;
    });
    lines.push(`${r.label.padEnd(18)} ${(r.timings.totalMs / 1000).toFixed(1).padStart(8)} ${(r.timings.startupMs / 1000).toFixed(1).padStart(8)} ${(r.timings.probeMs / 1000).toFixed(1).padStart(8)}  ${per.join(', ')}`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const take = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const [, v] = args.splice(i, 2);
    return v;
  };
  const update = args.includes('--update');
  if (update) args.splice(args.indexOf('--update'), 1);
  const work = take('--work');
  const goldenPath = take('--golden');
  if (!work || !goldenPath || args.length === 0) {
    process.stderr.write('usage: check.js --work DIR --golden FILE [--update] REPORT.json...\n');
    return 2;
  }
  const reports: RunReport[] = [];
  for (const f of args) {
    try {
      reports.push(JSON.parse(await readFile(f, 'utf8')) as RunReport);
    } catch (err) {
      process.stderr.write(`arm64 parity: cannot read report ${f} (${(err as Error).message}); did its run fail? See the output above\n`);
      return 1;
    }
  }
  const golden = existsSync(goldenPath) ? (JSON.parse(await readFile(goldenPath, 'utf8')) as Golden) : null;
  const manifest = JSON.parse(await readFile(join(work, MANIFEST), 'utf8')) as Manifest;
  const { checks, golden: fresh } = await checkParity(work, reports, golden);
  process.stdout.write(`\n${table(checks)}\n\n${timingTable(reports, manifest)}\n`);
  if (update) {
    if (!fresh) {
      process.stderr.write('arm64 parity: NOT updating the goldens: the arm64 CPUs disagree, the integer reference failed or a run is missing (see above)\n');
      return 1;
    }
    const body = `${JSON.stringify(fresh, null, 1)}\n`;
    await writeFileAtomic(goldenPath, body);
    process.stdout.write(`arm64 parity: goldens written to ${goldenPath} (sha256 ${createHash('sha256').update(body).digest('hex').slice(0, 12)})\n`);
    return 0;
  }
  const failed = checks.filter((c) => !c.ok && !c.info);
  if (failed.length > 0) {
    process.stderr.write(`\narm64 parity: FAILED ${failed.length} check(s):\n${failed.map((c) => `  ${c.area} / ${c.what}: ${c.detail}`).join('\n')}\n`);
    process.stdout.write(`Parity: ${checks.filter((c) => c.ok && !c.info).length} passed, ${failed.length} failed\n`);
    return 1;
  }
  process.stdout.write(`\narm64 parity: OK\nParity: ${checks.filter((c) => c.ok && !c.info).length} passed, 0 failed\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  process.exitCode = await main();
}
