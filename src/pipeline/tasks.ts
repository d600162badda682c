import type { Detection, DetectionSpec } from '../types/detection.js';
import { EdgefitError } from '../util/errors.js';
import { anchorsFor } from '../detect/anchors.js';
import { DetectionDecoder } from '../detect/postprocess.js';
import { topK, type TopKEntry } from './topk.js';

/**
 * What a model's output means, by name, registered in one table like the engines (src/engine/registry.ts) and
 * the frame sources (src/camera/registry.ts). A task binds once per model load (a detector's anchors for the
 * resolution it runs at are made there, never per frame) and then interprets each raw output.
 */
export type TaskName = 'classification' | 'detection';

/** What a task needs to know about the loaded model. */
export interface TaskModel {
  variantId: string;
  resolution: number;
  /** the resolution the detector was imported at (its embedded anchors); ModelCard.resolution */
  nativeResolution?: number;
  labels: readonly string[] | undefined;
  /** detectors: the card's post-process and anchors (src/types/detection.ts) */
  detection?: DetectionSpec;
}

export interface TaskOptions {
  /** classification: how many classes go into `top` */
  topK: number;
  /** classification: entries below it are left out of `top` */
  scoreThreshold: number;
  /** detection: detections below it are left out (and not counted) */
  minScore: number;
  /** only these labels are reported (empty = all) */
  labels: readonly string[];
}

export interface TaskOutput {
  /** classification: the best classes; detection: empty */
  top: TopKEntry[];
  detections?: Detection[];
  /** detections per label (only labels seen) */
  counts?: Record<string, number>;
}

/** One bound model: raw output -> result fields. The object returned is the same every call: read it before the next. */
export type Interpret = (raw: Float32Array) => TaskOutput;

export interface Task {
  /** once per model load; throws (with what to do) when the model cannot be read as this task */
  bind(model: TaskModel, opts: TaskOptions): Interpret;
}

const tasks = new Map<string, Task>();

export function registerTask(name: TaskName, task: Task): void {
  tasks.set(name, task);
}

export function taskFor(name: string): Task {
  const t = tasks.get(name);
  if (!t) throw new EdgefitError('E_TASK', `unknown task ${JSON.stringify(name)}: known tasks are ${[...tasks.keys()].join(', ')}`);
  return t;
}

export function bindTask(name: TaskName, model: TaskModel, opts: TaskOptions): Interpret {
  return taskFor(name).bind(model, opts);
}

/** a Set only when there is a filter: the common case tests nothing per entry */
function labelSet(labels: readonly string[]): Set<string> | undefined {
  return labels.length > 0 ? new Set(labels) : undefined;
}

registerTask('classification', {
  bind(model, opts) {
    const labels = model.labels;
    const only = labelSet(opts.labels);
    const out: TaskOutput = { top: [] };
    if (!only) return (raw) => { out.top = topK(raw, opts.topK, labels, opts.scoreThreshold); return out; };
    // the mask is sized on the first output (the class count is the engine's, known once it answered)
    let allowed: Uint8Array | undefined;
    return (raw) => {
      if (allowed?.length !== raw.length) {
        allowed = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) allowed[i] = only.has(labels?.[i] ?? String(i)) ? 1 : 0;
      }
      out.top = topK(raw, opts.topK, labels, opts.scoreThreshold, allowed);
      return out;
    };
  },
});

registerTask('detection', {
  bind(model, opts) {
    const spec = model.detection;
    if (!spec) throw new EdgefitError('E_TASK', `${model.variantId} is not a detector (its model card has no detection section): set models.task to the model's task, or re-import it`);
    const anchors = anchorsFor(spec, model.resolution, model.nativeResolution);
    // its scratch buffers (decoded boxes, NMS lists) are reused frame after frame
    const decoder = new DetectionDecoder();
    const only = labelSet(opts.labels);
    const decodeOpts = { minScore: opts.minScore };
    const out: TaskOutput = { top: [] };
    return (raw) => {
      let detections = decoder.decode(raw, spec, anchors, model.labels, decodeOpts);
      if (only) detections = detections.filter((d) => only.has(d.label));
      // no prototype: a label is any text, "__proto__" included
      const counts: Record<string, number> = Object.create(null) as Record<string, number>;
      for (const d of detections) counts[d.label] = (counts[d.label] ?? 0) + 1;
      out.detections = detections;
      out.counts = counts;
      return out;
    };
  },
});
