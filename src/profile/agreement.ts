import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Variant } from '../catalog/types.js';
import type { ProviderName } from '../engine/engine.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import type { AgreementJob, ChildAnswer } from './protocol.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import type { Agreement } from './types.js';
import { BUNDLED_RUNTIME, type OrtRuntime } from './runtime.js';

/** The probe frames agreement is measured on: image files of one directory, identified by their content. */
export interface ProbeSet {
  dir: string;
  files: string[];
  /** sha256 over the names and bytes: a different set of frames is a different measurement */
  sha256: string;
}

const IMAGE = /\.(jpe?g|png|bmp)$/i;
/** More frames than this are not read: agreement is a check, not an evaluation. */
export const MAX_PROBE_FRAMES = 32;

/**
 * The probe set in `dir` (JPEG, PNG and BMP files, by name, at most MAX_PROBE_FRAMES), or undefined when the
 * directory does not exist or holds no image.
 */
export async function loadProbeSet(dir: string): Promise<ProbeSet | undefined> {
  const root = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((e) => e.isFile() && IMAGE.test(e.name)).map((e) => e.name).sort().slice(0, MAX_PROBE_FRAMES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EdgefitError('E_PROBE_DIR', `cannot read the probe frames directory ${root}: ${(err as Error).message}; set profile.probeDir to a readable directory of photos`, { cause: err });
  }
  if (names.length === 0) return undefined;
  const h = createHash('sha256');
  for (const n of names) h.update(n).update('\0').update(createHash('sha256').update(await readFile(join(root, n))).digest()).update('\0');
  return { dir: root, files: names.map((n) => join(root, n)), sha256: h.digest('hex') };
}

/** Whether `dir` lists at least one photo loadProbeSet would take (reads the listing only, hashes nothing). */
export async function hasProbePhotos(dir: string): Promise<boolean> {
  try {
    return (await readdir(resolve(dir), { withFileTypes: true })).some((e) => e.isFile() && IMAGE.test(e.name));
  } catch {
    return false;
  }
}

/** Whether a rung gets an agreement measurement: real weights run below the resolution they were trained at. */
export function needsAgreement(v: Variant): boolean {
  return v.pretrained && v.nativeResolution !== undefined && v.resolution < v.nativeResolution;
}

export interface AgreementOptions {
  provider?: ProviderName;
  /** as ProfileOptions.runtime */
  runtime?: OrtRuntime;
  threads?: number;
  /** the child is killed past this; default 120 s */
  timeoutMs?: number;
}

/**
 * Runs the rung's model file at the rung's resolution and at its native one on every probe frame, in an isolated
 * child process (a crash or hang costs the measurement, never the caller), and counts equal top-1 classes. Never
 * rejects for what the model does: a failure comes back as ok:false with the reason.
 */
export async function measureAgreement(v: Variant, probe: ProbeSet, opts: AgreementOptions = {}): Promise<Agreement> {
  const nativeResolution = v.nativeResolution ?? v.resolution;
  const base = { nativeResolution, probe: probe.dir, probeSet: probe.sha256 };
  const result = (r: { ok: boolean; frames: number; agreeing: number; error?: string }): Agreement => ({ ...base, ...r, measuredAt: new Date().toISOString() });
  const fail = (error: string) => result({ ok: false, frames: 0, agreeing: 0, error });
  if (!(v.resolution < nativeResolution)) return fail(`${v.id} runs at its native resolution: there is nothing to compare it with`);
  const childPath = distModule('profile/child.js');
  if (!existsSync(childPath)) return fail(`the profiler's compiled child ${childPath} is missing; run \`npm run build\``);
  const job: AgreementJob = {
    type: 'agreement', modelPath: v.modelPath, provider: opts.provider ?? 'cpu', runtime: opts.runtime ?? BUNDLED_RUNTIME, threads: opts.threads ?? 1,
    resolution: v.resolution, nativeResolution, frames: probe.files,
  };
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let answer: ChildAnswer;
  try {
    answer = await runIsolated<ChildAnswer>(childPath, job, { timeoutMs });
  } catch (err) {
    if (!(err instanceof IsolatedFailure)) return fail(errorMessage(err));
    switch (err.end) {
      case 'timeout': return fail(`timed out after ${timeoutMs} ms`);
      case 'spawn': return fail(`could not start the profiler child process: ${err.detail}`);
      default: {
        const tail = err.stderrTail.trim().split('\n').slice(-2).join(' | ');
        const { code, signal } = err.exit;
        const how = signal ? `was killed by ${signal}` : code !== null ? `exited with code ${code}` : err.detail;
        return fail(`crashed: the profiler child ${how}${tail ? ` (stderr: ${tail})` : ''}`);
      }
    }
  }
  if (answer.type === 'error') return fail(answer.message);
  if (answer.type !== 'agreement') return fail(`the profiler child answered a ${answer.type} job`);
  if (answer.frames === 0) return fail(`none of the ${probe.files.length} probe frames is at least ${nativeResolution} pixels on its short side`);
  return result({ ok: true, frames: answer.frames, agreeing: answer.agreeing });
}
