/**
 * Greedy single-class non-maximum suppression with the semantics of TFLite's
 * `NonMaxSuppressionSingleClassHelper` (tensorflow/lite/kernels/detection_postprocess.cc): candidates are the
 * boxes whose score is >= the score threshold, visited in decreasing score order with ties in index order (the
 * op uses a stable sort); a visited box that no selected box overlaps with IoU > the IoU threshold is selected
 * (the op deactivates every later box a selected one overlaps, which is the same thing: a suppressed box never
 * suppresses another); it stops after `maxOut` selections.
 * Boxes are corners (ymin, xmin, ymax, xmax) as decoded, not clipped, as the op compares them.
 *
 * Candidates are visited through a binary heap of sort keys instead of a full sort: with max 20 detections
 * only a few dozen of ~1600 candidates are ever reached (a comparator sort of them took over a millisecond).
 */
export class SingleClassNms {
  private order = new Int32Array(0);
  private keys = new Float64Array(0);
  private scores: Float32Array = new Float32Array(0);
  private readonly bits = new Uint32Array(1);
  private readonly f32 = new Float32Array(this.bits.buffer);
  private readonly byScore = (a: number, b: number): number => this.scores[b]! - this.scores[a]! || a - b;

  /** Selected box indices go into `out` (capacity >= maxOut); returns how many. */
  run(boxes: Float32Array, scores: Float32Array, n: number, scoreThreshold: number, iouThreshold: number, maxOut: number, out: Int32Array): number {
    if (this.order.length < n) {
      this.order = new Int32Array(n);
      this.keys = new Float64Array(n);
    }
    const { keys, order, bits, f32 } = this;
    // Scores >= 0 become one number each, (largest float32 bit pattern - the score's bits) * 2^21 + index:
    // smaller key = higher score, ties by index, exact in a double. Negative scores take the comparator path.
    let m = 0;
    let negative = false;
    for (let i = 0; i < n; i++) {
      const s = scores[i]!;
      if (!(s >= scoreThreshold)) continue;
      if (s < 0) negative = true;
      f32[0] = s + 0; // -0 as +0
      order[m] = i;
      keys[m++] = (0x7f800000 - bits[0]!) * INDEX_SPAN + i;
    }
    let selected = 0;
    if (negative || n > INDEX_SPAN) {
      this.scores = scores;
      order.subarray(0, m).sort(this.byScore);
      for (let i = 0; i < m && selected < maxOut; i++) if (free(boxes, out, selected, order[i]!, iouThreshold)) out[selected++] = order[i]!;
      return selected;
    }
    for (let i = (m >> 1) - 1; i >= 0; i--) siftDown(keys, i, m);
    let size = m;
    while (size > 0 && selected < maxOut) {
      const a = keys[0]! % INDEX_SPAN;
      keys[0] = keys[--size]!;
      siftDown(keys, 0, size);
      if (free(boxes, out, selected, a, iouThreshold)) out[selected++] = a;
    }
    return selected;
  }
}

/** indices below 2^21 keep a sort key below 2^52 (exact in a double) */
const INDEX_SPAN = 2 ** 21;

/** No box selected so far overlaps box `a` with IoU above the threshold. */
function free(boxes: Float32Array, selected: Int32Array, count: number, a: number, iouThreshold: number): boolean {
  for (let s = 0; s < count; s++) if (iou(boxes, selected[s]!, a) > iouThreshold) return false;
  return true;
}

function siftDown(h: Float64Array, i: number, size: number): void {
  const x = h[i]!;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && h[c + 1]! < h[c]!) c++;
    if (h[c]! >= x) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = x;
}

/** iou of two [ymin, xmin, ymax, xmax] boxes (not for hot paths: it copies them). */
export function boxIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return iou(Float32Array.of(a[0]!, a[1]!, a[2]!, a[3]!, b[0]!, b[1]!, b[2]!, b[3]!), 0, 1);
}

/** TFLite's ComputeIntersectionOverUnion: 0 when either box has no area. */
export function iou(boxes: Float32Array, i: number, j: number): number {
  const yi0 = boxes[4 * i]!, xi0 = boxes[4 * i + 1]!, yi1 = boxes[4 * i + 2]!, xi1 = boxes[4 * i + 3]!;
  const yj0 = boxes[4 * j]!, xj0 = boxes[4 * j + 1]!, yj1 = boxes[4 * j + 2]!, xj1 = boxes[4 * j + 3]!;
  const areaI = (yi1 - yi0) * (xi1 - xi0);
  const areaJ = (yj1 - yj0) * (xj1 - xj0);
  if (areaI <= 0 || areaJ <= 0) return 0;
  const ih = Math.max(Math.min(yi1, yj1) - Math.max(yi0, yj0), 0);
  const iw = Math.max(Math.min(xi1, xj1) - Math.max(xi0, xj0), 0);
  const inter = ih * iw;
  return inter / (areaI + areaJ - inter);
}
