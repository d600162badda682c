import { describe, it, expect } from 'vitest';
import { buildGraph, type BuildOptions } from '../../src/zoo/registry.js';
import { graphCost, peakActivation, formatLayerTable } from '../../src/zoo/cost.js';
import { zeroWeights } from '../../src/zoo/init.js';
import { inferShapes, numel, type Graph } from '../../src/zoo/graph.js';

// Costs depend on shapes only: zero weights keep these builds fast.
const cost = (o: BuildOptions) => graphCost(buildGraph({ ...o, weights: zeroWeights }));
const M = 1e6;

describe('MobileNet-v1 against the paper (Howard et al. 2017)', () => {
  it('1.0-224: 4.2M params, 569M mult-adds', () => {
    const c = cost({ family: 'mobilenet_v1', alpha: 1, resolution: 224 });
    // Keras Applications MobileNet(alpha=1.0) reports exactly: Total 4,253,864; Trainable 4,231,976.
    expect(c.paramsWithBn).toBe(4_253_864);
    expect(c.trainableParams).toBe(4_231_976);
    // 4,210,088 without BN, 4,231,976 with gamma/beta: both round to the paper's 4.2M.
    expect(c.params).toBe(4_210_088);
    expect((c.params / M).toFixed(1)).toBe('4.2');
    // 568,740,352 rounds to the paper's 569M.
    expect(c.macs.total).toBe(568_740_352);
    expect(Math.round(c.macs.total / M)).toBe(569);
  });

  it('1.0-224 split by layer type matches table 2 (mult-adds and weights)', () => {
    const g = buildGraph({ family: 'mobilenet_v1', alpha: 1, resolution: 224, weights: zeroWeights });
    const c = graphCost(g);
    const pct = (x: number, t: number) => ((100 * x) / t).toFixed(2);
    // Table 2: Conv 1x1 94.86%, Conv DW 3x3 3.06%, FC 0.18% of mult-adds. The paper's "Conv 3x3 1.19%" is a
    // transposition of 1.91%: its four shares only sum to 100% with 1.91 (94.86 + 3.06 + 1.91 + 0.18 = 100.01).
    expect(pct(c.macs.pointwise, c.macs.total)).toBe('94.86');
    expect(pct(c.macs.depthwise, c.macs.total)).toBe('3.06');
    expect(pct(c.macs.conv, c.macs.total)).toBe('1.91');
    expect(pct(c.macs.classifier, c.macs.total)).toBe('0.18');
    // Parameter shares (74.59 / 1.06 / 0.02 / 24.33%) count weights only: no biases, no BN (4,209,088 in all).
    const weights = (kind: string) => c.layers.filter((l) => l.kind === kind).reduce((t, l) => t + numel(g.params.get(`${l.name}.weight`)!.shape), 0);
    const total = ['pointwise', 'depthwise', 'conv', 'classifier'].reduce((t, k) => t + weights(k), 0);
    expect(total).toBe(4_209_088);
    expect(pct(weights('pointwise'), total)).toBe('74.59');
    expect(pct(weights('depthwise'), total)).toBe('1.06');
    expect(pct(weights('conv'), total)).toBe('0.02');
    expect(pct(weights('classifier'), total)).toBe('24.33');
  });

  it('width multipliers at 224: 325M / 149M / 41M mult-adds; 2.6M / 1.3M / 0.47M params', () => {
    const c75 = cost({ family: 'mobilenet_v1', alpha: 0.75, resolution: 224 });
    const c50 = cost({ family: 'mobilenet_v1', alpha: 0.5, resolution: 224 });
    const c25 = cost({ family: 'mobilenet_v1', alpha: 0.25, resolution: 224 });
    // 325,400,448 -> 325M; 149,497,088 -> 149M; 41,030,272 -> 41M (nearest million)
    expect([c75.macs.total, c50.macs.total, c25.macs.total]).toEqual([325_400_448, 149_497_088, 41_030_272]);
    expect([c75, c50, c25].map((c) => Math.round(c.macs.total / M))).toEqual([325, 149, 41]);
    // Table 6 counts trainable parameters (with BN gamma/beta): 2,585,560 -> 2.6M; 1,331,592 -> 1.3M;
    // 470,072 -> 0.47M. Without gamma/beta the 0.25 model would be 464,600 = 0.46M, so gamma/beta are in.
    expect([c75.trainableParams, c50.trainableParams, c25.trainableParams]).toEqual([2_585_560, 1_331_592, 470_072]);
    expect([c75.trainableParams / M, c50.trainableParams / M].map((v) => v.toFixed(1))).toEqual(['2.6', '1.3']);
    expect((c25.trainableParams / M).toFixed(2)).toBe('0.47');
    expect(c25.params).toBe(464_600);
  });

  it('resolutions 192/160/128 at 1.0: 418M / 290M / 186M mult-adds, params unchanged', () => {
    const r = [192, 160, 128].map((resolution) => cost({ family: 'mobilenet_v1', alpha: 1, resolution }));
    // 418,121,728 -> 418M and 186,400,768 -> 186M (nearest). 290,675,200 is 290.7M: the paper's 290M is
    // 569M x (160/224)^2 = 290.3M; the exact count is higher because the classifier's 1.024M MACs do not
    // scale with resolution (418 and 186 agree either way).
    expect(r.map((c) => c.macs.total)).toEqual([418_121_728, 290_675_200, 186_400_768]);
    expect(Math.round(r[0]!.macs.total / M)).toBe(418);
    expect(Math.round(r[2]!.macs.total / M)).toBe(186);
    expect(Math.round(568.740352 * (160 / 224) ** 2)).toBe(290);
    expect(r[1]!.macs.total - r[1]!.macs.classifier).toBe(Math.round((568_740_352 - 1_024_000) * (160 / 224) ** 2));
    for (const c of r) expect(c.params).toBe(4_210_088);
  });
});

describe('MobileNet-v2 against the paper (Sandler et al. 2018) and the authors\' model table', () => {
  it('1.0-224: 3.4M params, 300M MACs', () => {
    const c = cost({ family: 'mobilenet_v2', alpha: 1, resolution: 224 });
    // Keras MobileNetV2(alpha=1.0): Total 3,538,984; Trainable 3,504,872.
    expect(c.paramsWithBn).toBe(3_538_984);
    expect(c.trainableParams).toBe(3_504_872);
    // 3,470,760 without BN: the authors' TF-slim table says 3.47M (two decimals); the paper's 3.4M truncates it.
    expect(c.params).toBe(3_470_760);
    expect(Math.floor((c.params / M) * 10) / 10).toBe(3.4);
    // 300,774,272: the paper's 300M and the slim table's 300 truncate to whole millions.
    expect(c.macs.total).toBe(300_774_272);
    expect(Math.floor(c.macs.total / M)).toBe(300);
  });

  it('the other widths at 224 match the slim table (MACs truncated, params to 2 decimals)', () => {
    // slim table: 0.35: 59M/1.66M, 0.5: 97M/1.95M, 0.75: 209M/2.61M, 1.3: 509M/5.34M, 1.4: 582M/6.06M
    const want: Array<[number, number, number, number, string]> = [
      [0.35, 59_285_808, 1_663_048, 59, '1.66'],
      [0.5, 97_131_840, 1_950_136, 97, '1.95'],
      [0.75, 209_069_792, 2_609_784, 209, '2.61'],
      [1.3, 509_374_560, 5_342_536, 509, '5.34'],
      [1.4, 582_195_824, 6_060_840, 582, '6.06'],
    ];
    for (const [alpha, macs, params, mShort, pShort] of want) {
      const c = cost({ family: 'mobilenet_v2', alpha, resolution: 224 });
      expect([alpha, c.macs.total, c.params]).toEqual([alpha, macs, params]);
      expect(Math.floor(c.macs.total / M)).toBe(mShort);
      expect((c.params / M).toFixed(2)).toBe(pShort);
    }
  });

  it('keeps the last conv at 1280 for alpha <= 1 and scales it above', () => {
    const last = (alpha: number) => buildGraph({ family: 'mobilenet_v2', alpha, resolution: 96, weights: zeroWeights }).layers.find((l) => l.name === 'conv_last');
    expect(last(0.35)).toMatchObject({ outChannels: 1280 });
    expect(last(1.0)).toMatchObject({ outChannels: 1280 });
    expect(last(1.4)).toMatchObject({ outChannels: 1792 });
  });
});

describe('ShuffleNet v1 against the paper (Zhang et al. 2017)', () => {
  it('1x g=3: 137M FLOPs (the paper\'s ~140M class); table 1 for every g counts the convs only', () => {
    const c = cost({ family: 'shufflenet_v1', alpha: 1, resolution: 224, options: { groups: 3 } });
    // the paper's FLOPs are mult-adds. 137,460,672 in total; table 1 lists 137M for g=3.
    expect(c.macs.total).toBe(137_460_672);
    expect(Math.abs(c.macs.total / M - 140)).toBeLessThan(3);
    // Table 1's complexities 143/140/137/133/137 M for g = 1/2/3/4/8 are the conv layers without the final
    // FC layer, rounded to the nearest million (with the FC, g=4 and g=8 would read 134 and 138).
    const table1: Record<number, number> = { 1: 143, 2: 140, 3: 137, 4: 133, 8: 137 };
    const exact: Record<number, number> = { 1: 142_502_976, 2: 140_036_512, 3: 136_500_672, 4: 133_251_776, 8: 136_829_952 };
    for (const g of [1, 2, 3, 4, 8]) {
      const cg = cost({ family: 'shufflenet_v1', alpha: 1, resolution: 224, options: { groups: g } });
      const convOnly = cg.macs.total - cg.macs.classifier;
      expect([g, convOnly]).toEqual([g, exact[g]]);
      expect([g, Math.round(convOnly / M)]).toEqual([g, table1[g]]);
    }
  });

  it('scale factors build with group-compatible widths and cost ~ s^2', () => {
    const c1 = cost({ family: 'shufflenet_v1', alpha: 1, resolution: 224 });
    for (const s of [0.25, 0.5, 1.5, 2]) {
      for (const g of [1, 2, 3, 4, 8]) {
        const c = cost({ family: 'shufflenet_v1', alpha: s, resolution: 224, options: { groups: g } });
        expect(c.macs.total).toBeGreaterThan(0);
      }
      const c = cost({ family: 'shufflenet_v1', alpha: s, resolution: 224 });
      const ratio = c.macs.total / c1.macs.total / (s * s);
      expect(ratio).toBeGreaterThan(0.6);
      expect(ratio).toBeLessThan(1.4);
    }
  });
});

describe('SqueezeNet and Xception against their reference implementations', () => {
  it('SqueezeNet 1.0: 1,248,424 params (1.25M); 1.1: 1,235,496 with 2.4x fewer MACs', () => {
    const v10 = cost({ family: 'squeezenet', resolution: 224 });
    const v11 = cost({ family: 'squeezenet', resolution: 224, options: { version: '1.1' } });
    // the reference (torchvision squeezenet1_0 / 1_1) has no BN: our count without BN is its count exactly
    expect(v10.params).toBe(1_248_424);
    expect((v10.params / M).toFixed(2)).toBe('1.25');
    expect(v11.params).toBe(1_235_496);
    expect([v10.macs.total, v11.macs.total]).toEqual([818_924_576, 349_151_936]);
    // The 1.1 README says "2.4x less computation"; counting conv MACs only it is 818.9M / 349.2M = 2.345x
    // (the README does not say what it counted; pooling and ReLU costs shift the ratio toward 2.4).
    const ratio = v10.macs.total / v11.macs.total;
    expect(ratio.toFixed(3)).toBe('2.345');
  });

  it('Xception 299: 22,910,480 params with BN (Keras), 22,855,952 trainable (the paper\'s table 3)', () => {
    const c = cost({ family: 'xception', resolution: 299 });
    expect(c.paramsWithBn).toBe(22_910_480);
    // table 3 prints 22,855,952 exactly: weights, biases and BN gamma/beta. 22.9M in the Keras docs rounds the total.
    expect(c.trainableParams).toBe(22_855_952);
    expect((c.paramsWithBn / M).toFixed(1)).toBe('22.9');
    expect(c.params).toBe(22_801_424);
    expect(c.macs.total).toBe(8_357_403_496);
  });
});

describe('weight bytes and peak activation memory', () => {
  it('int8 size is 1 B per weight + 4 B per (folded) bias', () => {
    const c = cost({ family: 'mobilenet_v1', alpha: 1, resolution: 224 });
    // 4,209,088 weights; biases: 10,944 BN channels fold into biases + 1,000 classifier biases = 11,944
    expect(c.bnParams).toBe(4 * 10_944);
    expect(c.weightBytes.int8).toBe(4_209_088 + 4 * 11_944);
    expect(c.weightBytes.fp32).toBe(4 * (4_209_088 + 11_944));
  });

  it('MobileNet-v1 1.0-224 peaks at block1.pw.bn: two 64x112x112 tensors live', () => {
    const c = cost({ family: 'mobilenet_v1', alpha: 1, resolution: 224 });
    expect(c.peakActivation).toEqual({ elements: 2 * 64 * 112 * 112, fp32Bytes: 8 * 64 * 112 * 112, int8Bytes: 2 * 64 * 112 * 112, atLayer: 'block1.pw.bn' });
    // fused (BN folded, activations in place): the pointwise conv's 32- and 64-channel maps
    expect(c.peakActivationFused).toMatchObject({ elements: 96 * 112 * 112, atLayer: 'block1.pw' });
  });

  it('counts a tensor as live until its last reader (residual branches)', () => {
    // input -> a(conv) -> b(relu) -> c(conv) -> d = add(a, c): a is live through d
    const g: Graph = {
      meta: { family: 'mobilenet_v2', alpha: 1, resolution: 4, classes: 2, options: {} },
      input: { name: 'x', shape: [1, 4, 4] },
      layers: [
        { op: 'conv', name: 'a', inputs: ['x'], output: 'a', outChannels: 2, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], group: 1, bias: false },
        { op: 'relu', name: 'b', inputs: ['a'], output: 'b' },
        { op: 'conv', name: 'c', inputs: ['b'], output: 'c', outChannels: 2, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], group: 1, bias: false },
        { op: 'add', name: 'd', inputs: ['a', 'c'], output: 'd' },
      ],
      output: 'd',
      params: new Map(),
    };
    const p = peakActivation(g, inferShapes(g), false);
    // at c: a (32) + b (32) + c (32) live; x (16) died after layer a
    expect(p).toEqual({ elements: 96, fp32Bytes: 384, int8Bytes: 96, atLayer: 'c' });
    // in place, b reuses nothing: a is still read by d, so relu cannot overwrite it
    expect(peakActivation(g, inferShapes(g), true).elements).toBe(96);
  });

  it('prints a per-layer table', () => {
    const t = formatLayerTable(cost({ family: 'squeezenet', resolution: 224, options: { version: '1.1' } }));
    expect(t).toMatch(/fire2\.expand3x3 +conv +conv/);
    expect(t.split('\n').at(-1)).toMatch(/total .*349151936$/);
  });
});
