import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { convertTflite } from '../../src/importers/tflite/index.js';
import { parseTflite, Op } from '../../src/importers/tflite/schema.js';
import { readFlexMap } from '../../src/importers/tflite/flexbuffers.js';
import { EdgefitError } from '../../src/util/errors.js';

/**
 * Issue 17's bad input: a detector without its post-process op, unknown custom ops, options out of range, an
 * anchors tensor of the wrong shape, a label file shorter than the classes. Each is made from the real Coral SSD
 * by editing its flatbuffer in place, and each must be a clear EdgefitError at import with nothing written.
 */
const SSD = join(sharedData, 'models/detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite');
const LABELS = join(sharedData, 'labels/coco_labels.txt');
const original = new Uint8Array(readFileSync(SSD));

/** A copy of the model, parsed: its views (custom options, vectors) point into the copy, so edits land in it. */
function copy() {
  const bytes = original.slice();
  const m = parseTflite(bytes, 'edit');
  return { bytes, m, dv: new DataView(bytes.buffer), post: m.operators[m.operators.length - 1]! };
}

/** Where each option's inline value lies in the file (the map of the reader, by key order), for in-place edits. */
function optionOffsets(bytes: Uint8Array, options: Uint8Array): Map<string, number> {
  const base = options.byteOffset - bytes.byteOffset;
  const len = options.length;
  const rootWidth = options[len - 1]!;
  const mapWidth = 1 << (options[len - 2]! & 3);
  const rootPos = len - 2 - rootWidth;
  const map = rootPos - options[rootPos]!; // root width 1 in this file
  const keys = [...readFlexMap(options, 'x').keys()];
  return new Map(keys.map((k, i) => [k, base + map + i * mapWidth]));
}

function setOption(kind: 'int' | 'float', key: string, value: number): Uint8Array {
  const { bytes, dv, post } = copy();
  const at = optionOffsets(bytes, post.customOptions!).get(key)!;
  expect(at, key).toBeDefined();
  if (kind === 'int') dv.setInt32(at, value, true);
  else dv.setFloat32(at, value, true);
  return bytes;
}

/** A "no NMS" export: the post-process op dropped from the operator list and the graph ending in its two inputs. */
function withoutPostprocess(): Uint8Array {
  const { bytes, m, dv, post } = copy();
  const r = m.reader;
  const sg = r.tableVector(r.root('Model'), 2, 'subgraphs')[0]!;
  const ops = r.vector(sg, 3, 4, 'operators')!;
  dv.setUint32(ops.start - 4, ops.n - 1, true);
  const outs = r.vector(sg, 2, 4, 'outputs')!;
  dv.setInt32(outs.start, post.inputs[0]!, true);
  dv.setInt32(outs.start + 4, post.inputs[1]!, true);
  dv.setUint32(outs.start - 4, 2, true);
  return bytes;
}

/** Renames the custom op (and any tensor named like it), as a vendor's own NMS op would appear. */
function renamedCustomOp(): Uint8Array {
  const bytes = original.slice();
  const from = new TextEncoder().encode('TFLite_Detection_PostProcess\0');
  const to = new TextEncoder().encode('VendorX_FastNonMaxSuppressio\0');
  expect(to.length).toBe(from.length);
  let n = 0;
  for (let i = bytes.indexOf(from[0]!); i >= 0; i = bytes.indexOf(from[0]!, i + 1)) {
    if (from.every((b, j) => bytes[i + j] === b)) { bytes.set(to, i); n++; }
  }
  expect(n).toBeGreaterThan(0);
  return bytes;
}

/** The anchors tensor reshaped to [3834, 2]: the same bytes, but not one (y, x, h, w) per box. */
function anchorsReshaped(): Uint8Array {
  const { bytes, m, dv, post } = copy();
  const r = m.reader;
  const sg = r.tableVector(r.root('Model'), 2, 'subgraphs')[0]!;
  const tensor = r.tableVector(sg, 0, 'tensors')[post.inputs[2]!]!;
  const shape = r.vector(tensor, 0, 4, 'shape')!;
  expect([dv.getInt32(shape.start, true), dv.getInt32(shape.start + 4, true)]).toEqual([1917, 4]);
  dv.setInt32(shape.start, 3834, true);
  dv.setInt32(shape.start + 4, 2, true);
  return bytes;
}

const cases: { name: string; bytes: () => Uint8Array; message: RegExp; labels?: string }[] = [
  { name: 'a "no NMS" export (no post-process op)', bytes: withoutPostprocess, message: /without its TFLite_Detection_PostProcess op .*add_postprocessing_op=true/ },
  { name: 'an unknown custom op', bytes: renamedCustomOp, message: /custom op "VendorX_FastNonMaxSuppressio", which edgefit cannot run/ },
  { name: 'nms_iou_threshold > 1', bytes: () => setOption('float', 'nms_iou_threshold', 1.5), message: /nms_iou_threshold = 1.5 is outside \(0, 1\]/ },
  { name: 'nms_iou_threshold NaN', bytes: () => setOption('float', 'nms_iou_threshold', NaN), message: /nms_iou_threshold/ },
  { name: 'max_detections 0', bytes: () => setOption('int', 'max_detections', 0), message: /max_detections = 0 is outside 1\.\.1000/ },
  { name: 'max_detections huge', bytes: () => setOption('int', 'max_detections', 2_000_000_000), message: /max_detections = 2000000000 is outside/ },
  { name: 'num_classes that does not fit the scores tensor', bytes: () => setOption('int', 'num_classes', 80), message: /num_classes is 80 but the class scores have 91 columns/ },
  { name: 'max_classes_per_detection above num_classes', bytes: () => setOption('int', 'max_classes_per_detection', 91), message: /max_classes_per_detection = 91 is outside 1\.\.90/ },
  { name: 'a negative box coder scale', bytes: () => setOption('float', 'h_scale', -5), message: /box coder scale h_scale = -5 must be positive/ },
  { name: 'an anchors tensor of the wrong shape', bytes: anchorsReshaped, message: /anchors tensor anchors has shape \[3834,2\], expected \[1917, 4\]/ },
  { name: 'a label file shorter than the classes', bytes: () => original, labels: 'short', message: /the detector has 90 classes but the labels file names 50/ },
];

describe('bad detector input is refused at import, nothing written', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgefit-ssd-faults-'));
    writeFileSync(join(dir, 'short.txt'), Array.from({ length: 50 }, (_, i) => `${i}  thing${i}`).join('\n'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the unedited model imports (the edits below are what is refused)', () => {
    const labels = readFileSync(LABELS, 'utf8').split('\n').filter((l) => l.trim()).map((l) => l.replace(/^\d+\s+/, ''));
    expect(labels).toHaveLength(80);
    expect(convertTflite(original, 'ssd.tflite').card.task).toBe('detection');
  });

  for (const c of cases) {
    it(`${c.name}: EdgefitError with a message that says what is wrong`, () => {
      const labels = c.labels ? Array.from({ length: 50 }, (_, i) => `thing${i}`) : undefined;
      let err: unknown;
      try {
        convertTflite(c.bytes(), 'ssd.tflite', { labels });
      } catch (e) {
        err = e;
      }
      expect(err, 'import did not fail').toBeInstanceOf(EdgefitError);
      expect((err as Error).message).toMatch(c.message);
    });
  }

  it('through `edgefit import`: each bad file exits non-zero with its message and leaves the output directory empty', () => {
    for (const [i, c] of cases.entries()) {
      const file = join(dir, `bad${i}.tflite`);
      writeFileSync(file, c.bytes());
      const out = join(dir, `out${i}`);
      mkdirSync(out);
      const args = [join(projectRoot, 'bin/edgefit.js'), 'import', file, '--out', out, ...(c.labels ? ['--labels', join(dir, 'short.txt')] : [])];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 50_000 });
      expect(r.status, `${c.name}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr, c.name).toMatch(c.message);
      expect(readdirSync(out), c.name).toEqual([]);
    }
  });
});

describe('FlexBuffers option reader', () => {
  it('reads every option of the real op with its type', () => {
    const { post } = copy();
    const map = readFlexMap(post.customOptions!, 'ssd');
    expect(Object.fromEntries(map)).toMatchObject({ max_detections: 20, max_classes_per_detection: 1, num_classes: 90, use_regular_nms: 0, y_scale: 10, x_scale: 10, h_scale: 5, w_scale: 5 });
    expect(map.get('nms_iou_threshold')).toBeCloseTo(0.6, 6);
  });

  it('truncated or corrupted option bytes are refused with an EdgefitError, never read out of bounds', () => {
    const { post } = copy();
    const opts = post.customOptions!.slice();
    let refused = 0;
    for (let cut = 0; cut < opts.length; cut += 7) {
      try { readFlexMap(opts.subarray(cut), 'x'); } catch (e) { expect(e).toBeInstanceOf(EdgefitError); refused++; }
      try { readFlexMap(opts.subarray(0, opts.length - cut - 1), 'x'); } catch (e) { expect(e).toBeInstanceOf(EdgefitError); refused++; }
    }
    let seed = 7;
    for (let k = 0; k < 300; k++) {
      const bad = opts.slice();
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      bad[seed % bad.length] = (seed >> 8) & 255;
      try { readFlexMap(bad, 'x'); } catch (e) { expect(e).toBeInstanceOf(EdgefitError); refused++; }
    }
    expect(refused).toBeGreaterThan(20);
    expect(Op.CUSTOM).toBe(32);
  });
});
