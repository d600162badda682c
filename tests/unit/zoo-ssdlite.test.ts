import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildGraph, variantId, type BuildOptions } from '../../src/zoo/registry.js';
import { graphCost, type GraphCost } from '../../src/zoo/cost.js';
import { zeroWeights, heInit } from '../../src/zoo/init.js';
import { GraphBuilder } from '../../src/zoo/builder.js';
import { inferShapes, type Graph, type WeightSource } from '../../src/zoo/graph.js';
import { emitOnnx, describeOnnx } from '../../src/onnx/emit.js';
import { buildTfjsModel } from '../../src/engine/tfjs/model.js';
import { evaluate, fillParams, pixelsToInput, relErr, seededFrame } from './onnx-reference.js';
import { writeZooModel } from '../../src/catalog/zoo-artifacts.js';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anchorsFor, decodeAnchors, generateSsdAnchors, ssdAnchorCount, ssdFeatureMaps, STANDARD_SSD_ANCHORS } from '../../src/detect/anchors.js';

const M = 1e6;
const ssd = (family: 'mobilenet_v1' | 'mobilenet_v2', resolution: number, classes: number, alpha = 1): BuildOptions =>
  ({ family, alpha, resolution, classes, options: { head: 'ssdlite' } });
const cost = (o: BuildOptions): GraphCost => graphCost(buildGraph({ ...o, weights: zeroWeights }));
const sum = (c: GraphCost, re: RegExp, k: 'params' | 'macs') => c.layers.filter((l) => re.test(l.name)).reduce((t, l) => t + l[k], 0);
const HEAD = /^(extra|head)\d/;

/**
 * The head counted by hand from the TF OD API layout (not from the graph): four extra layers (1x1 to d/2, 3x3
 * depthwise stride 2, 1x1 to d) and per map a box and a class predictor (3x3 depthwise, 1x1 with bias).
 */
function headByHand(taps: [number, number], res: number, classes: number): { params: number; macs: number } {
  const maps = ssdFeatureMaps(res, 6).map(([h]) => h);
  const channels = [...taps, 512, 256, 256, 128];
  const boxes = [3, 6, 6, 6, 6, 6];
  let params = 0;
  let macs = 0;
  for (let i = 0; i < 4; i++) {
    const cin = channels[i + 1]!;
    const d = channels[i + 2]!;
    const [inA, outA] = [maps[i + 1]! ** 2, maps[i + 2]! ** 2];
    const p = [cin * (d / 2), (d / 2) * 9, (d / 2) * d];
    params += p[0]! + p[1]! + p[2]!;
    macs += p[0]! * inA + (p[1]! + p[2]!) * outA;
  }
  channels.forEach((c, m) => {
    for (const k of [4, classes + 1]) {
      const p = c * 9 + c * boxes[m]! * k + boxes[m]! * k;
      params += p;
      macs += (c * 9 + c * boxes[m]! * k) * maps[m]! ** 2;
    }
  });
  return { params, macs };
}

describe('SSDLite on the zoo MobileNets against the MobileNet-v2 paper (Sandler et al. 2018, table 6)', () => {
  it('at 320x320 the exact counts round to the paper: SSDLite-v2 4.3M / 0.8B, SSDLite-v1 5.1M / 1.3B (COCO counted as 80 classes + background)', () => {
    // The paper's figures fit COCO's 80 categories + background (81 class slots per box). The TF OD API's COCO
    // models predict 90 + 1 (label ids with gaps): 4,449,791 params / 804,397,504 MACs (v2) and 5,209,663 /
    // 1,322,426,304 (v1): 4.4M and 5.2M, one rounding step above the paper's params, same MAdds.
    const v2 = cost(ssd('mobilenet_v2', 320, 80));
    expect([v2.params, v2.macs.total]).toEqual([4_286_261, 788_830_144]);
    expect((v2.params / M).toFixed(1)).toBe('4.3');
    expect((v2.macs.total / 1e9).toFixed(1)).toBe('0.8');
    const v1 = cost(ssd('mobilenet_v1', 320, 80));
    expect([v1.params, v1.macs.total]).toEqual([5_063_413, 1_309_162_944]);
    expect((v1.params / M).toFixed(1)).toBe('5.1');
    expect((v1.macs.total / 1e9).toFixed(1)).toBe('1.3');
    // with gamma/beta (trainable, as TF counts) they still round the same: 4.34M and 5.10M
    expect((v2.trainableParams / M).toFixed(1)).toBe('4.3');
    expect((v1.trainableParams / M).toFixed(1)).toBe('5.1');

    const v2coco90 = cost(ssd('mobilenet_v2', 320, 90));
    expect([v2coco90.params, v2coco90.macs.total]).toEqual([4_449_791, 804_397_504]);
    const v1coco90 = cost(ssd('mobilenet_v1', 320, 90));
    expect([v1coco90.params, v1coco90.macs.total]).toEqual([5_209_663, 1_322_426_304]);
  });

  it('the head is the TF OD API layout counted by hand, and the backbone is the classifier family without its classifier', () => {
    for (const res of [300, 320, 256]) {
      for (const classes of [90, 80]) {
        const v2 = cost(ssd('mobilenet_v2', res, classes));
        expect(sum(v2, HEAD, 'params')).toBe(headByHand([576, 1280], res, classes).params);
        expect(sum(v2, HEAD, 'macs')).toBe(headByHand([576, 1280], res, classes).macs);
        const v1 = cost(ssd('mobilenet_v1', res, classes));
        expect(sum(v1, HEAD, 'params')).toBe(headByHand([512, 1024], res, classes).params);
        expect(sum(v1, HEAD, 'macs')).toBe(headByHand([512, 1024], res, classes).macs);
      }
      // backbone: the classifier graph's convs up to the last feature map, the same layers, the same costs
      for (const family of ['mobilenet_v1', 'mobilenet_v2'] as const) {
        const det = cost(ssd(family, res, 90));
        const cls = cost({ family, alpha: 1, resolution: res });
        const body = cls.layers.filter((l) => l.kind !== undefined && l.kind !== 'classifier');
        expect(det.layers.filter((l) => l.kind !== undefined && !HEAD.test(l.name))).toEqual(body);
      }
    }
  });

  it('SSDLite-v2 at 300 (the TF model zoo size): 4.45M params, 0.75B MACs; costs exist for every alpha', () => {
    const c = cost(ssd('mobilenet_v2', 300, 90));
    expect([c.params, c.macs.total]).toEqual([4_449_791, 749_503_856]);
    let prev = 0;
    for (const alpha of [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]) {
      const m = cost(ssd('mobilenet_v2', 300, 90, alpha)).macs.total;
      expect(m).toBeGreaterThan(prev);
      prev = m;
    }
    // extra layers scale with alpha, never below 16 channels (TF's min_depth)
    const g = buildGraph({ ...ssd('mobilenet_v2', 300, 90, 0.35), weights: zeroWeights });
    const pw = (n: string) => g.layers.find((l) => l.name === n) as { outChannels: number };
    expect([pw('extra1.reduce').outChannels, pw('extra1.pw').outChannels, pw('extra4.reduce').outChannels, pw('extra4.pw').outChannels]).toEqual([89, 179, 22, 44]);
    expect(variantId(ssd('mobilenet_v2', 300, 90))).toBe('mobilenet_v2-1.0-300-head=ssdlite-c90');
  });
});

describe('SSDLite graph output', () => {
  it('raw holds one row per anchor of the standard SSD generator, 4 + classes + 1 wide', () => {
    for (const res of [300, 256, 224, 320]) {
      for (const family of ['mobilenet_v1', 'mobilenet_v2'] as const) {
        const g = buildGraph({ ...ssd(family, res, 90), weights: zeroWeights });
        const anchors = ssdAnchorCount(STANDARD_SSD_ANCHORS, ssdFeatureMaps(res, 6));
        expect([family, res, inferShapes(g).get(g.output)]).toEqual([family, res, [anchors, 95]]);
      }
    }
  });

  it('emits to ONNX and runs in onnxruntime with the single output raw [1, anchors, 95] at 300 and 256 (seeded weights)', async () => {
    for (const [family, res, anchors] of [['mobilenet_v2', 300, 1917], ['mobilenet_v2', 256, 1284], ['mobilenet_v1', 300, 1917], ['mobilenet_v1', 256, 1284]] as const) {
      const bytes = emitOnnx(buildGraph({ ...ssd(family, res, 90, family === 'mobilenet_v1' ? 0.25 : 0.35), weights: heInit(7) }));
      const d = describeOnnx(bytes);
      expect(d.outputs.map((o) => [o.name, o.shape])).toEqual([['raw', [1, anchors, 95]]]);
      expect(d.metadata.output_kind).toBe('raw');
      const s = await ort.InferenceSession.create(bytes);
      try {
        const frame = new Uint8Array(res * res * 3).map((_, i) => (i * 31 + (i >> 7)) & 255);
        const out = await s.run({ pixels: new ort.Tensor('uint8', frame, [1, res, res, 3]) });
        expect(Object.keys(out)).toEqual(['raw']);
        const raw = out['raw']!;
        expect(raw.dims).toEqual([1, anchors, 95]);
        const v = raw.data as Float32Array;
        expect(v.every(Number.isFinite)).toBe(true);
        let boxMin = Infinity;
        let boxMax = -Infinity;
        for (let a = 0; a < anchors; a++) {
          for (let k = 0; k < 4; k++) { boxMin = Math.min(boxMin, v[a * 95 + k]!); boxMax = Math.max(boxMax, v[a * 95 + k]!); }
          for (let k = 4; k < 95; k++) {
            const p = v[a * 95 + k]!;
            if (!(p >= 0 && p <= 1)) throw new Error(`anchor ${a} class ${k - 4}: score ${p} is not a sigmoid output`);
          }
        }
        expect(boxMax - boxMin).toBeGreaterThan(0);
      } finally {
        await s.release();
      }
    }
  });

  it('the ssd_output layout is TensorFlow\'s: per map row, column, box; channel = box * width + value; sigmoid scores', async () => {
    // input channel 0 = the pixel's position y*6+x, channel 1 = 1: each predictor channel writes a unique value
    const R = 6;
    const K = 3;
    const weights: WeightSource = (name, shape) => {
      const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
      const m = Number(/^map(\d)/.exec(name)![1]);
      const cls = name.includes('class');
      if (name.endsWith('.weight')) {
        for (let ch = 0; ch < shape[0]!; ch++) {
          out[ch * 3] = cls ? 0.001 : 1;
          out[ch * 3 + 1] = cls ? 0.05 * ch + 0.5 * m - 1 : 1000 * (ch + 1) + 100000 * m;
        }
      }
      return out;
    };
    const b = new GraphBuilder({ family: 'mobilenet_v2', alpha: 1, resolution: R, classes: K - 1, options: {} }, weights, 'relu6');
    const boxes = [2, 3];
    const stride = [1, 2];
    const maps = [0, 1].map((m) => ({
      box: b.conv(`map${m}.box`, 'input', { out: boxes[m]! * 4, kernel: 1, stride: stride[m] }),
      cls: b.conv(`map${m}.class`, 'input', { out: boxes[m]! * K, kernel: 1, stride: stride[m] }),
    }));
    const g: Graph = b.finish(b.ssdOutput('raw', maps.map((x) => x.box), maps.map((x) => x.cls), { coords: 4, classes: K, boxes }));
    const input = new Float32Array(3 * R * R);
    for (let i = 0; i < R * R; i++) { input[i] = i; input[R * R + i] = 1; }
    const s = await ort.InferenceSession.create(emitOnnx(g, { input: 'float-nchw' }));
    const raw = (await s.run({ input: new ort.Tensor('float32', input, [1, 3, R, R]) }))['raw']!;
    await s.release();
    const v = raw.data as Float32Array;
    expect(raw.dims).toEqual([1, 6 * 6 * 2 + 3 * 3 * 3, 4 + K]);
    let a = 0;
    for (let m = 0; m < 2; m++) {
      const side = R / stride[m]!;
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let j = 0; j < boxes[m]!; j++, a++) {
        const pos = y * stride[m]! * R + x * stride[m]!;
        const row = Array.from(v.subarray(a * (4 + K), (a + 1) * (4 + K)));
        expect(row.slice(0, 4)).toEqual([0, 1, 2, 3].map((c) => pos + 1000 * (j * 4 + c + 1) + 100000 * m));
        row.slice(4).forEach((p, k) => expect(Math.log(p / (1 - p))).toBeCloseTo(0.001 * pos + 0.05 * (j * K + k) + 0.5 * m - 1, 4));
      }
    }
  });

  it('the emitted SSDLite-v1 and -v2 (BN folded) equal a plain float64 evaluation of the graph', async () => {
    for (const family of ['mobilenet_v1', 'mobilenet_v2'] as const) {
      const res = 48;
      const g = fillParams(buildGraph({ ...ssd(family, res, 3, family === 'mobilenet_v1' ? 0.25 : 0.35), weights: zeroWeights }), 3);
      const frame = seededFrame(res, res, 5);
      const ref = evaluate(g, pixelsToInput(frame, res, res, [1 / 127.5, 1 / 127.5, 1 / 127.5], [-1, -1, -1])).get(g.output)!;
      expect(ref.shape).toEqual([ssdAnchorCount(STANDARD_SSD_ANCHORS, ssdFeatureMaps(res, 6)), 8]);
      const s = await ort.InferenceSession.create(emitOnnx(g));
      const raw = (await s.run({ pixels: new ort.Tensor('uint8', frame, [1, res, res, 3]) }))['raw']!;
      await s.release();
      expect(raw.dims).toEqual([1, ...ref.shape]);
      expect({ family, err: relErr(raw.data as Float32Array, ref.data) }).toEqual({ family, err: expect.closeTo(0, 4) });
    }
  });

  it('zoo build of an SSDLite writes a detection card whose anchors are the rows of raw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-ssdlite-'));
    try {
      const w = await writeZooModel({ ...ssd('mobilenet_v2', 256, 90, 0.35), weights: zeroWeights }, dir);
      const card = JSON.parse(readFileSync(w.cardPath, 'utf8')) as typeof w.card;
      expect(card.task).toBe('detection');
      const spec = card.detection!;
      expect(spec).toMatchObject({ anchorCount: 1284, background: true, resize: 'stretch', anchorGenerator: { ...STANDARD_SSD_ANCHORS } });
      expect(spec.postprocess).toMatchObject({ numClasses: 90, useRegularNms: false, scales: { y: 10, x: 10, h: 5, w: 5 } });
      expect(decodeAnchors(spec)).toEqual(generateSsdAnchors({ ...STANDARD_SSD_ANCHORS, aspectRatios: [...STANDARD_SSD_ANCHORS.aspectRatios] }, ssdFeatureMaps(256, 6)));
      expect(anchorsFor(spec, 256, card.resolution).length).toBe(1284 * 4);
      expect(describeOnnx(readFileSync(w.onnxPath)).outputs[0]).toMatchObject({ name: 'raw', shape: [1, spec.anchorCount, 4 + spec.postprocess.numClasses + 1] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what a detector cannot do: logits/probabilities output, the TF.js engine', () => {
    const g = buildGraph({ ...ssd('mobilenet_v2', 128, 90, 0.35), weights: zeroWeights });
    expect(() => emitOnnx(g, { output: 'logits' })).toThrow(/detector's output is 'raw'/);
    expect(() => buildTfjsModel(g)).toThrow(/classifiers only.*onnxruntime/);
    // a detector's input size is fixed (its anchors are): dynamic resolution is not emitted
    expect(describeOnnx(emitOnnx(g, { dynamicResolution: true })).inputs[0]!.shape).toEqual([1, 128, 128, 3]);
  });
});
