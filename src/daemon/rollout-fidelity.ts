import type { Config } from '../config/types.js';
import type { Variant } from '../catalog/types.js';
import type { HostOptions } from '../engine/host.js';
import type { ProbeSet } from '../profile/agreement.js';
import type { Choice } from '../select/choose.js';
import { distModule } from '../util/paths.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { hostOptionsFor } from './engine-service.js';

/**
 * A rollout's fidelity (issue 19): the share of the device's probe frames on which the new model gives the answer
 * the previous (last good) model gave. Both answers come from the same child (fidelity-child.ts), which runs a
 * variant as the pipeline does: the daemon's engine host with its provider and threads, the frame fitted as the
 * camera fits it (centre crop, or stretched for a detector), the output read by the pipeline's task.
 *
 * An answer is a label, never a class index, so two catalogs whose label files differ are compared on meaning:
 * a classifier's answer is its top-1 label (whatever its score); a detector's is the set of labels it detects at
 * or above mqtt.results.minScore (how many of each, and where, left out: boxes move between two models, what is
 * in the scene should not). mqtt.results.labels, when set, restricts both as it restricts the published results.
 */

/** Fewer comparable frames than this: fidelity is not judged (null), not judged on one or two photos. */
export const MIN_FIDELITY_FRAMES = 3;

export interface AnswersJob {
  variant: Variant;
  host: HostOptions;
  /** image files (JPEG, PNG, BMP) */
  frames: string[];
  minScore: number;
  labels: string[];
}

/** One answer per frame, in order; null for a frame that could not be read. */
export type Answers = (string | null)[];

/** The fidelity of `after` to `before` (answers to the same frames), or null with the reason. */
export interface Fidelity {
  fidelity: number | null;
  /** frames both models answered */
  frames: number;
  agreeing: number;
  why?: string;
}

/** Frames answered by both: the share that agree, to 3 decimals; null below MIN_FIDELITY_FRAMES. */
export function compareAnswers(before: Answers, after: Answers): Fidelity {
  let frames = 0;
  let agreeing = 0;
  for (let i = 0; i < Math.min(before.length, after.length); i++) {
    const a = before[i];
    const b = after[i];
    if (a === null || a === undefined || b === null || b === undefined) continue;
    frames++;
    if (a === b) agreeing++;
  }
  if (frames < MIN_FIDELITY_FRAMES) return { fidelity: null, frames, agreeing, why: `${frames} probe frame(s) answered by both models, fewer than ${MIN_FIDELITY_FRAMES}` };
  return { fidelity: Math.round((agreeing / frames) * 1000) / 1000, frames, agreeing };
}

/**
 * The answers of the variant `choice` runs on the probe frames, in a child process: the model is loaded a second
 * time there, so the running pipeline is neither paused nor slowed on its thread, and a runtime that crashes on a
 * frame costs this measurement only. Rejects (with what happened) when the child fails.
 */
export async function answersOn(c: Config, choice: Pick<Choice, 'variant' | 'provider' | 'threads'>, probe: ProbeSet, signal?: AbortSignal): Promise<Answers> {
  const job: AnswersJob = {
    variant: choice.variant, host: hostOptionsFor(c, choice), frames: probe.files, minScore: c.mqtt.results.minScore, labels: c.mqtt.results.labels,
  };
  // the model's load, then every frame at most one engine timeout
  const timeoutMs = 120_000 + probe.files.length * c.engine.timeoutMs;
  try {
    return await runIsolated<Answers>(distModule('daemon/fidelity-child.js'), job, { timeoutMs, maxRssMb: 2048, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (err instanceof IsolatedFailure) throw new EdgefitError('E_FIDELITY', `running ${choice.variant.id} on the probe frames failed: its child process ${err.detail}${err.lastLine ? `: ${err.lastLine}` : ''}`, { cause: err });
    throw new EdgefitError('E_FIDELITY', `running ${choice.variant.id} on the probe frames failed: ${errorMessage(err)}`, { cause: err });
  }
}
