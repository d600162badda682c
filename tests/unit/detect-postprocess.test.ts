import { describe, it, expect } from 'vitest';
import { DetectionDecoder, postprocessDetections } from '../../src/detect/postprocess.js';
import { iou, SingleClassNms } from '../../src/detect/nms.js';
import type { DetectionSpec } from '../../src/types/detection.js';
import { EdgefitError } from '../../src/util/errors.js';

/** Hand-made detector outputs: with zero encodings a box is its anchor, so anchors say where the boxes are. */
const CLASSES = 3;
function spec(over: Partial<DetectionSpec['postprocess']> = {}, background = true): DetectionSpec {
  return {
    postprocess: {
      maxDetections: 10, maxClassesPerDetection: 1, detectionsPerClass: 10, useRegularNms: false,
      nmsIouThreshold: 0.6, nmsScoreThreshold: 0.1, numClasses: CLASSES, scales: { y: 10, x: 10, h: 5, w: 5 }, ...over,
    },
    background, anchorsBase64: '', anchorCount: 0, resize: 'stretch',
  };
}
/** boxes as [ymin, xmin, ymax, xmax]; scores per box without background (background column gets 0.99) */
function frame(boxes: number[][], scores: number[][], background = true): { raw: Float32Array; anchors: Float32Array } {
  const stride = 4 + CLASSES + (background ? 1 : 0);
  const raw = new Float32Array(boxes.length * stride);
  const anchors = new Float32Array(boxes.length * 4);
  boxes.forEach(([y0, x0, y1, x1], i) => {
    anchors.set([(y0! + y1!) / 2, (x0! + x1!) / 2, y1! - y0!, x1! - x0!], 4 * i);
    if (background) raw[i * stride + 4] = 0.99;
    raw.set(scores[i]!, i * stride + 4 + (background ? 1 : 0));
  });
  return { raw, anchors };
}
const LABELS = ['person', 'car', 'dog'];
const round = (b: number[]) => b.map((v) => Math.round(v * 1e4) / 1e4);

// a and b overlap (IoU 0.8), c is elsewhere
const A = [0.1, 0.1, 0.5, 0.5];
const B = [0.1, 0.1, 0.5, 0.45];
const C = [0.6, 0.6, 0.9, 0.9];

describe('box decoding (TFLite centre-size box coder)', () => {
  it('ycenter = ty/yscale*ha + ya, h = exp(th/hscale)*ha, corners, background column skipped', () => {
    const raw = new Float32Array([1, -1, 5 * Math.LN2, 0, 0.99, 0.2, 0.9, 0.1]);
    const anchors = new Float32Array([0.5, 0.5, 0.2, 0.2]);
    const [d] = postprocessDetections(raw, spec(), anchors, LABELS);
    expect(d!.index).toBe(1);
    expect(d!.label).toBe('car');
    expect(d!.score).toBeCloseTo(0.9, 6);
    // yc 0.52, xc 0.48, h 0.4, w 0.2
    expect(round(d!.box)).toEqual([0.32, 0.38, 0.72, 0.58]);
  });

  it('NMS runs on the unclipped boxes as the op does; only the reported box is clipped to the frame', () => {
    // unclipped: IoU 0.5 (kept both); clipped to [0, 1] they would be the same box
    const { raw, anchors } = frame([[-0.5, 0, 0.5, 1], [0, 0, 0.5, 1]], [[0.9, 0, 0], [0.8, 0, 0]]);
    const out = postprocessDetections(raw, spec(), anchors, LABELS);
    expect(out).toHaveLength(2);
    expect(out[0]!.box).toEqual([0, 0, 0.5, 1]);
    expect(out[1]!.box).toEqual([0, 0, 0.5, 1]);
  });

  it('IoU is TFLite\'s: 0 for a box without area', () => {
    const boxes = new Float32Array([0, 0, 1, 1, 0.5, 0.5, 0.5, 0.9, 0, 0, 0.5, 1]);
    expect(iou(boxes, 0, 1)).toBe(0);
    expect(iou(boxes, 0, 2)).toBeCloseTo(0.5, 6);
  });
});

describe('fast NMS (use_regular_nms = false)', () => {
  it('one NMS over each anchor\'s best class: an overlapping box of another class is suppressed', () => {
    const { raw, anchors } = frame([A, B, C], [[0.1, 0.9, 0.2], [0.1, 0.2, 0.8], [0.7, 0, 0]]);
    expect(iou(new Float32Array([...A, ...B]), 0, 1)).toBeGreaterThan(0.6);
    const out = postprocessDetections(raw, spec(), anchors, LABELS);
    expect(out.map((d) => [d.label, d.score])).toEqual([['car', Math.fround(0.9)], ['person', Math.fround(0.7)]]);
  });

  it('scores below nms_score_threshold are not candidates; minScore filters the result', () => {
    const { raw, anchors } = frame([A, C], [[0.05, 0, 0], [0.3, 0, 0]]);
    expect(postprocessDetections(raw, spec(), anchors, LABELS).map((d) => d.score)).toEqual([Math.fround(0.3)]);
    expect(postprocessDetections(raw, spec(), anchors, LABELS, { minScore: 0.5 })).toEqual([]);
  });

  it('ties go in anchor order (stable sort), max_detections caps the count', () => {
    const far = (i: number) => [0.1 * i, 0, 0.1 * i + 0.05, 0.05];
    const { raw, anchors } = frame([far(0), far(1), far(2), far(3)], [[0.5, 0, 0], [0.5, 0, 0], [0.6, 0, 0], [0.5, 0, 0]]);
    const out = postprocessDetections(raw, spec({ maxDetections: 3 }), anchors, LABELS);
    expect(out.map((d) => round(d.box)[0])).toEqual([0.2, 0, 0.1]);
  });

  it('max_classes_per_detection = 2: each kept anchor reports its two best classes, sorted by score', () => {
    const { raw, anchors } = frame([A, C], [[0.2, 0.9, 0.5], [0.7, 0.1, 0.6]]);
    const out = postprocessDetections(raw, spec({ maxClassesPerDetection: 2 }), anchors, LABELS);
    expect(out.map((d) => `${d.label} ${d.score.toFixed(2)}`)).toEqual(['car 0.90', 'person 0.70', 'dog 0.60', 'dog 0.50']);
  });

  it('a model without a background column, and labels given with background first', () => {
    const { raw, anchors } = frame([A], [[0.1, 0.2, 0.9]], false);
    const [d] = postprocessDetections(raw, spec({}, false), anchors, ['background', ...LABELS]);
    expect([d!.label, d!.index]).toEqual(['dog', 2]);
    expect(postprocessDetections(raw, spec({}, false), anchors, undefined)[0]!.label).toBe('class_2');
  });
});

describe('regular NMS (use_regular_nms = true)', () => {
  it('suppresses within a class only, then keeps the best max_detections overall', () => {
    // A and B both "car" (B suppressed by A), B is also the only "dog"; C is a person
    const { raw, anchors } = frame([A, B, C], [[0, 0.9, 0], [0, 0.85, 0.8], [0.7, 0, 0]]);
    const out = postprocessDetections(raw, spec({ useRegularNms: true }), anchors, LABELS);
    expect(out.map((d) => `${d.label} ${d.score.toFixed(2)}`)).toEqual(['car 0.90', 'dog 0.80', 'person 0.70']);
    expect(round(out[1]!.box)).toEqual(B);
    const two = postprocessDetections(raw, spec({ useRegularNms: true, maxDetections: 2 }), anchors, LABELS);
    expect(two.map((d) => d.label)).toEqual(['car', 'dog']);
  });

  it('detections_per_class caps each class before the merge', () => {
    const far = (i: number) => [0.2 * i, 0, 0.2 * i + 0.1, 0.1];
    const { raw, anchors } = frame([far(0), far(1), far(2), far(3)], [[0.9, 0, 0], [0.8, 0, 0], [0.7, 0.3, 0], [0.6, 0, 0]]);
    const out = postprocessDetections(raw, spec({ useRegularNms: true, detectionsPerClass: 2 }), anchors, LABELS);
    expect(out.map((d) => `${d.label} ${d.score.toFixed(1)}`)).toEqual(['person 0.9', 'person 0.8', 'car 0.3']);
  });

  it('fast and regular agree when every anchor has one class and nothing overlaps across classes', () => {
    const { raw, anchors } = frame([A, C], [[0.9, 0, 0], [0, 0, 0.4]]);
    const fast = postprocessDetections(raw, spec(), anchors, LABELS);
    const regular = postprocessDetections(raw, spec({ useRegularNms: true }), anchors, LABELS);
    expect(regular).toEqual(fast);
  });
});

describe('the decoder', () => {
  it('refuses an output that does not fit the anchors (wrong rung or model) with an EdgefitError', () => {
    const { raw, anchors } = frame([A, C], [[0.9, 0, 0], [0, 0, 0.4]]);
    expect(() => postprocessDetections(raw.subarray(8), spec(), anchors, LABELS)).toThrow(EdgefitError);
    expect(() => postprocessDetections(raw, spec({ numClasses: 4 }), anchors, LABELS)).toThrow(/expected 2 anchors x 9/);
  });

  it('reuses its buffers across frames of different sizes and gives the same answers', () => {
    const dec = new DetectionDecoder();
    const big = frame([A, B, C, [0.2, 0.7, 0.3, 0.8]], [[0, 0.9, 0], [0, 0.85, 0.8], [0.7, 0, 0], [0, 0, 0.3]]);
    const small = frame([C], [[0.7, 0, 0]]);
    const first = dec.decode(big.raw, spec(), big.anchors, LABELS);
    expect(dec.decode(small.raw, spec(), small.anchors, LABELS)).toHaveLength(1);
    expect(dec.decode(big.raw, spec(), big.anchors, LABELS)).toEqual(first);
  });
});

/** TFLite's NonMaxSuppressionSingleClassHelper as written: stable sort of the candidates, active flags, deactivate later overlaps. */
function tfliteNms(boxes: Float32Array, scores: Float32Array, threshold: number, iouThr: number, maxOut: number): number[] {
  const keep = [...scores.keys()].filter((i) => scores[i]! >= threshold);
  const sorted = keep.map((i, k) => [i, k] as const).sort((a, b) => scores[b[0]]! - scores[a[0]]! || a[1] - b[1]).map(([i]) => i);
  const active = sorted.map(() => true);
  const selected: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (selected.length >= maxOut) break;
    if (!active[i]) continue;
    selected.push(sorted[i]!);
    active[i] = false;
    for (let j = i + 1; j < sorted.length; j++) if (active[j] && iou(boxes, sorted[i]!, sorted[j]!) > iouThr) active[j] = false;
  }
  return selected;
}

describe('single-class NMS against a transcription of the op', () => {
  it('selects the same boxes in the same order on random overlapping boxes with many tied, quantized and negative scores', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const nms = new SingleClassNms();
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rnd() * 300);
      const boxes = new Float32Array(4 * n);
      const scores = new Float32Array(n);
      const negative = trial % 10 === 9;
      for (let i = 0; i < n; i++) {
        const y = rnd() * 0.8, x = rnd() * 0.8, h = rnd() * 0.3, w = rnd() * 0.3;
        boxes.set([y, x, y + h, x + w], 4 * i);
        scores[i] = Math.round(rnd() * 16) / 16 - (negative ? 0.5 : 0); // few distinct values: many ties
      }
      const threshold = negative ? -0.25 : [0, 1e-8, 0.3][trial % 3]!;
      const iouThr = [0.3, 0.5, 0.6, 1][trial % 4]!;
      const maxOut = 1 + Math.floor(rnd() * 40);
      const out = new Int32Array(n);
      const count = nms.run(boxes, scores, n, threshold, iouThr, maxOut, out);
      expect(Array.from(out.subarray(0, count)), `trial ${trial}`).toEqual(tfliteNms(boxes, scores, threshold, iouThr, maxOut));
    }
  });
});

describe('regular NMS against a transcription of the op', () => {
  it('per class NMS, merged into the best max_detections (stable on equal scores), on random frames', () => {
    let seed = 5;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const dec = new DetectionDecoder();
    for (let trial = 0; trial < 60; trial++) {
      const n = 5 + Math.floor(rnd() * 120);
      const boxes: number[][] = [];
      const scores: number[][] = [];
      for (let i = 0; i < n; i++) {
        const y = rnd() * 0.7, x = rnd() * 0.7, h = 0.05 + rnd() * 0.3, w = 0.05 + rnd() * 0.3;
        boxes.push([y, x, y + h, x + w]);
        scores.push([0, 1, 2].map(() => Math.round(rnd() ** 2 * 8) / 8));
      }
      const { raw, anchors } = frame(boxes, scores);
      const maxDetections = 1 + Math.floor(rnd() * 12);
      const detectionsPerClass = 1 + Math.floor(rnd() * 6);
      const s = spec({ useRegularNms: true, maxDetections, detectionsPerClass, nmsScoreThreshold: 0.2, nmsIouThreshold: 0.5 });
      const got = dec.decode(raw, s, anchors, LABELS).map((d) => `${d.index}:${d.score}:${round(d.box).join(',')}`);
      // the op: NMS per class on the decoded boxes, the running list and the class's selections concatenated, best first
      const decoded = new Float32Array(4 * n);
      boxes.forEach((b, i) => decoded.set(b, 4 * i));
      let merged: { a: number; c: number; score: number }[] = [];
      for (let c = 0; c < CLASSES; c++) {
        const cs = Float32Array.from(scores, (row) => row[c]!);
        const sel = tfliteNms(decoded, cs, 0.2, 0.5, detectionsPerClass).map((a) => ({ a, c, score: cs[a]! }));
        merged = [...merged, ...sel].map((e, k) => [e, k] as const).sort((x, y) => y[0].score - x[0].score || x[1] - y[1]).map(([e]) => e).slice(0, maxDetections);
      }
      const want = merged.map((e) => `${e.c}:${e.score}:${round(boxes[e.a]!.map((v) => Math.min(1, Math.max(0, v)))).join(',')}`);
      expect(got, `trial ${trial}`).toEqual(want);
    }
  });
});
