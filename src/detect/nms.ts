/**
 * Greedy single-class non-maximum suppression with the semantics of TFLite's
 * `NonMaxSuppressionSingleClassHelper` (tensorflow/lite/kernels/detection_postprocess.cc):
 * candidates are the boxes whose score is >= the score threshold, visited in decreasing score order with ties
 * in index order (the op uses a stable sort); a visited box that is still active is selected and deactivates
 * every later box whose IoU with it is > the IoU threshold; it stops after `maxOut` selections.
 * Boxes are corners (ymin, xmin, ymax, xmax) as decoded, not clipped, as the op compares them.
 */
export class SingleClassNms {
  private order = new Int32Array(0);
  private active = new Uint8Array(0);
  private scores: Float32Array = new Float32Array(0);
  private readonly byScore = (a: number, b: number): number => this.scores[b]! - this.scores[a]! || a - b;

  /** Selected box indices go into `out` (capacity >= maxOut); returns how many. */
  run(boxes: Float32Array, scores: Float32Array, n: number, scoreThreshold: number, iouThreshold: number, maxOut: number, out: Int32Array): number {
    if (this.order.length < n) {
      this.order = new Int32Array(n);
      this.active = new Uint8Array(n);
    }
    let m = 0;
    for (let i = 0; i < n; i++) if (scores[i]! >= scoreThreshold) this.order[m++] = i;
    this.scores = scores;
    const order = this.order.subarray(0, m).sort(this.byScore);
    const active = this.active;
    active.fill(1, 0, m);
    let left = m;
    let selected = 0;
    for (let i = 0; i < m && left > 0 && selected < maxOut; i++) {
      if (active[i] === 0) continue;
      const a = order[i]!;
      out[selected++] = a;
      active[i] = 0;
      left--;
      for (let j = i + 1; j < m; j++) {
        if (active[j] === 1 && iou(boxes, a, order[j]!) > iouThreshold) {
          active[j] = 0;
          left--;
        }
      }
    }
    return selected;
  }
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
