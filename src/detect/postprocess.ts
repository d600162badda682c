import type { Detection, DetectionSpec } from '../types/detection.js';
import { EdgefitError } from '../util/errors.js';
import { SingleClassNms } from './nms.js';

/**
 * The detector's post-process in TypeScript, with the semantics of TFLite's `TFLite_Detection_PostProcess`
 * (tensorflow/lite/kernels/detection_postprocess.cc): box decoding with the TF Object Detection API's
 * centre-size box coder, then fast NMS (one NMS over each anchor's best class) or regular NMS (per class, then
 * the best `maxDetections` overall). The op does not clip boxes and runs NMS on the unclipped corners; the
 * boxes reported here are clipped to the frame afterwards (Detection's contract), which changes no selection.
 *
 * `raw` is the model's one output [1, anchors, 4 + columns]: per anchor the encodings (ty, tx, th, tw) and the
 * class scores (a background column first when `spec.background`). `anchors` is (cy, cx, h, w) per anchor.
 * Scratch buffers live in a DetectionDecoder and are reused across frames: the only allocation per call is the
 * result.
 */
export class DetectionDecoder {
  private cap = 0;
  private boxes = new Float32Array(0);
  private rowScores = new Float32Array(0);
  private rowClasses = new Int32Array(0);
  private selected = new Int32Array(0);
  private readonly nms = new SingleClassNms();
  // regular NMS: the running best list and the class being merged into it
  private mergedAnchor = new Int32Array(0);
  private mergedClass = new Int32Array(0);
  private mergedScore = new Float32Array(0);
  private mergeTmp = new Int32Array(0);
  private mergeTmpScore = new Float32Array(0);

  decode(raw: Float32Array, spec: DetectionSpec, anchors: Float32Array, labels: readonly string[] | undefined, opts: { minScore?: number } = {}): Detection[] {
    const p = spec.postprocess;
    const n = anchors.length >> 2;
    const offset = spec.background ? 1 : 0;
    const stride = 4 + p.numClasses + offset;
    if (anchors.length !== n * 4 || raw.length !== n * stride) {
      throw new EdgefitError('E_DETECT_SHAPE', `the detector's output holds ${raw.length} values, expected ${n} anchors x ${stride} (4 box encodings + ${p.numClasses} classes${offset ? ' + background' : ''}); the anchors do not belong to this model or resolution, re-import it`);
    }
    this.reserve(n, p.maxDetections, p.detectionsPerClass, p.maxClassesPerDetection);
    this.decodeBoxes(raw, anchors, n, stride, p.scales);
    const minScore = opts.minScore ?? -Infinity;
    const out: Detection[] = [];
    if (p.useRegularNms) {
      const count = this.regularNms(raw, n, stride, offset, spec);
      for (let r = 0; r < count; r++) {
        const score = this.mergedScore[r]!;
        if (score >= minScore) out.push(this.detection(this.mergedAnchor[r]!, this.mergedClass[r]!, score, labels, p.numClasses));
      }
    } else {
      const k = Math.min(p.maxClassesPerDetection, p.numClasses);
      this.bestClasses(raw, n, stride, offset, p.numClasses, k);
      const count = this.nms.run(this.boxes, this.rowScores, n, p.nmsScoreThreshold, p.nmsIouThreshold, p.maxDetections, this.selected);
      for (let s = 0; s < count; s++) {
        const a = this.selected[s]!;
        for (let c = 0; c < k; c++) {
          const cls = this.rowClasses[a * k + c]!;
          const score = raw[a * stride + 4 + offset + cls]!;
          if (score >= minScore) out.push(this.detection(a, cls, score, labels, p.numClasses));
        }
      }
      // with several classes per anchor the list is ordered by anchor first; stable by score keeps the op's order on ties
      if (k > 1) out.sort((x, y) => y.score - x.score);
    }
    return out;
  }

  private reserve(n: number, maxDetections: number, perClass: number, perAnchor: number): void {
    if (n > this.cap) {
      this.cap = n;
      this.boxes = new Float32Array(4 * n);
      this.rowScores = new Float32Array(n);
      this.selected = new Int32Array(n);
    }
    if (this.rowClasses.length < n * perAnchor) this.rowClasses = new Int32Array(n * perAnchor);
    const merged = maxDetections + Math.min(perClass, n);
    if (this.mergedAnchor.length < merged) {
      this.mergedAnchor = new Int32Array(merged);
      this.mergedClass = new Int32Array(merged);
      this.mergedScore = new Float32Array(merged);
      this.mergeTmp = new Int32Array(merged);
      this.mergeTmpScore = new Float32Array(merged);
    }
  }

  /** TFLite's DecodeCenterSizeBoxes (computed in double, stored as float, as the op does). */
  private decodeBoxes(raw: Float32Array, anchors: Float32Array, n: number, stride: number, s: DetectionSpec['postprocess']['scales']): void {
    const boxes = this.boxes;
    for (let i = 0; i < n; i++) {
      const r = i * stride;
      const ya = anchors[4 * i]!, xa = anchors[4 * i + 1]!, ha = anchors[4 * i + 2]!, wa = anchors[4 * i + 3]!;
      const yc = Math.fround((raw[r]! / s.y) * ha + ya);
      const xc = Math.fround((raw[r + 1]! / s.x) * wa + xa);
      const hh = Math.fround(0.5 * Math.exp(raw[r + 2]! / s.h) * ha);
      const hw = Math.fround(0.5 * Math.exp(raw[r + 3]! / s.w) * wa);
      boxes[4 * i] = yc - hh;
      boxes[4 * i + 1] = xc - hw;
      boxes[4 * i + 2] = yc + hh;
      boxes[4 * i + 3] = xc + hw;
    }
  }

  /**
   * Per anchor the k best classes (without background), best first, and the best score: TFLite's
   * DecreasingPartialArgSort (argmax, first index on ties, for k = 1).
   */
  private bestClasses(raw: Float32Array, n: number, stride: number, offset: number, classes: number, k: number): void {
    const cls = this.rowClasses;
    for (let i = 0; i < n; i++) {
      const base = i * stride + 4 + offset;
      const o = i * k;
      if (k === 1) {
        let best = 0;
        let bestScore = raw[base]!;
        for (let c = 1; c < classes; c++) {
          const v = raw[base + c]!;
          if (v > bestScore) { bestScore = v; best = c; }
        }
        cls[o] = best;
        this.rowScores[i] = bestScore;
        continue;
      }
      // insertion into a k-long list, earlier classes first on ties
      let filled = 0;
      for (let c = 0; c < classes; c++) {
        const v = raw[base + c]!;
        if (filled === k && v <= raw[base + cls[o + k - 1]!]!) continue;
        let j = filled < k ? filled++ : k - 1;
        while (j > 0 && raw[base + cls[o + j - 1]!]! < v) { cls[o + j] = cls[o + j - 1]!; j--; }
        cls[o + j] = c;
      }
      this.rowScores[i] = raw[base + cls[o]!]!;
    }
  }

  /**
   * TFLite's NonMaxSuppressionMultiClassRegularHelper; returns the count kept in merged* (best first). Each
   * class's selections come out of NMS best first, so merging them into the running best list is a merge of two
   * sorted lists (the running list first on equal scores, as a stable sort of the op's concatenation would).
   */
  private regularNms(raw: Float32Array, n: number, stride: number, offset: number, spec: DetectionSpec): number {
    const p = spec.postprocess;
    const perClass = Math.min(p.detectionsPerClass, n);
    const scores = this.rowScores;
    const { mergedAnchor, mergedClass, mergedScore, mergeTmp, mergeTmpScore, selected } = this;
    let kept = 0;
    for (let c = 0; c < p.numClasses; c++) {
      for (let i = 0, r = 4 + offset + c; i < n; i++, r += stride) scores[i] = raw[r]!;
      const count = this.nms.run(this.boxes, scores, n, p.nmsScoreThreshold, p.nmsIouThreshold, perClass, selected);
      if (count === 0) continue;
      const total = Math.min(kept + count, p.maxDetections);
      // mergeTmp[k] = entry k of the new list: >= 0 an index into the running list, < 0 selection -1 - s
      let a = 0;
      let b = 0;
      for (let k = 0; k < total; k++) {
        if (b >= count || (a < kept && mergedScore[a]! >= scores[selected[b]!]!)) mergeTmp[k] = a++;
        else mergeTmp[k] = -1 - b++;
      }
      // written back from the end: an entry of the running list only moves towards the end
      for (let k = total - 1; k >= 0; k--) {
        const e = mergeTmp[k]!;
        if (e >= 0) {
          mergedAnchor[k] = mergedAnchor[e]!;
          mergedClass[k] = mergedClass[e]!;
          mergeTmpScore[k] = mergedScore[e]!;
        } else {
          const anchor = selected[-1 - e]!;
          mergedAnchor[k] = anchor;
          mergedClass[k] = c;
          mergeTmpScore[k] = scores[anchor]!;
        }
      }
      for (let k = 0; k < total; k++) mergedScore[k] = mergeTmpScore[k]!;
      kept = total;
    }
    return kept;
  }

  private detection(anchor: number, index: number, score: number, labels: readonly string[] | undefined, classes: number): Detection {
    const b = this.boxes;
    return { label: labelOf(labels, classes, index), index, score, box: [clip01(b[4 * anchor]!), clip01(b[4 * anchor + 1]!), clip01(b[4 * anchor + 2]!), clip01(b[4 * anchor + 3]!)] };
  }
}

const clip01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Labels indexed like Detection.index; a list with a background entry first is accepted too. */
function labelOf(labels: readonly string[] | undefined, classes: number, i: number): string {
  if (labels && labels.length === classes) return labels[i]!;
  if (labels && labels.length === classes + 1) return labels[i + 1]!;
  return `class_${i}`;
}

const shared = new DetectionDecoder();

/** Decodes one frame's `raw` output into detections sorted by score (shared scratch buffers; one thread's use). */
export function postprocessDetections(raw: Float32Array, spec: DetectionSpec, anchors: Float32Array, labels: readonly string[] | undefined, opts?: { minScore?: number }): Detection[] {
  return shared.decode(raw, spec, anchors, labels, opts);
}
