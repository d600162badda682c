import { describe, it, expect } from 'vitest';
import { byRole, type ConvShape, type OpEvent } from '../../scripts/bench/opprofile.js';
import { fmtRange, trimmedMean } from '../../scripts/bench/stats.js';

const dw = (c: number): ConvShape => ({ kernel: 9, group: c, inChannels: c, outChannels: c });
const pw = (i: number, o: number): ConvShape => ({ kernel: 1, group: 1, inChannels: i, outChannels: o });
const dense = (i: number, o: number): ConvShape => ({ kernel: 9, group: 1, inChannels: i, outChannels: o });

/** the roles byRole files a run's nodes under, in order */
const roles = (events: Omit<OpEvent, 'us'>[]): string[] => events.map((e, i) => {
  // each node alone, after the nodes before it (the first conv is found by position)
  const before = events.slice(0, i).map((x) => ({ ...x, us: 0 }));
  const r = byRole([...before, { ...e, us: 1000 }]);
  return Object.entries(r).find(([, ms]) => ms === 1)![0];
});

describe('bench: node times by role', () => {
  it('files the convs of an imported int8 graph and of its fp32 NCHWc twin under the same roles', () => {
    // int8: onnxruntime keeps the importer's names (conv<op index>, dwconv.., fc..) with a _token_N suffix
    const int8 = roles([
      { name: 'conv0_s2d_in', op: 'Reshape' },
      { name: 'conv0_token_0', op: 'QLinearConv', conv: dense(12, 32) },
      { name: 'dwconv1_token_3', op: 'QLinearConv', conv: dw(16) },
      { name: 'conv2_token_6', op: 'QLinearConv', conv: pw(16, 16) },
      { name: 'conv10_token_30', op: 'QLinearConv', conv: pw(64, 64) },
      { name: 'conv90_token_99', op: 'QLinearConv', conv: dense(256, 512) },
      { name: 'fc29_token_82', op: 'QLinearConv', conv: pw(256, 2) },
    ]);
    // fp32: the NCHWc convs are named after their activation
    const fp32 = roles([
      { name: 'input_nchw', op: 'Transpose' },
      { name: 'Relu_out_nchwc', op: 'Conv', conv: dense(3, 16) },
      { name: 'Relu_1_out_nchwc', op: 'Conv', conv: dw(16) },
      { name: 'Relu_2_out_nchwc', op: 'Conv', conv: pw(8, 16) },
      { name: 'Relu_10_out_nchwc', op: 'Conv', conv: pw(64, 64) },
      { name: 'Clip_117_out_nchwc', op: 'Conv', conv: dense(256, 512) },
      { name: 'fc29_out_nchwc', op: 'Conv', conv: pw(256, 2) },
    ]);
    expect(int8.slice(1)).toEqual(['first conv', 'depthwise conv', 'pointwise conv', 'pointwise conv', 'dense conv', 'classifier, pooling, other']);
    expect(fp32.slice(1)).toEqual(int8.slice(1));
    expect(int8[0]).toBe('classifier, pooling, other');
    expect(fp32[0]).toBe('layout (Reorder/Transpose)');
  });

  it('keeps the zoo\'s names', () => {
    expect(roles([{ name: 'conv1', op: 'Conv' }, { name: 'b3.dw', op: 'Conv' }, { name: 'b3.pw_token_9', op: 'QLinearConv' }, { name: 'classifier_nchwc', op: 'Conv', conv: pw(1024, 1008) }]))
      .toEqual(['first conv', 'depthwise conv', 'pointwise conv', 'classifier, pooling, other']);
  });

  it('sums the times of one role, in ms', () => {
    const r = byRole([{ name: 'c0', op: 'Conv', us: 5 }, { name: 'dwconv1_token_3', op: 'QLinearConv', us: 30, conv: dw(16) }, { name: 'dwconv3_token_9', op: 'QLinearConv', us: 12, conv: dw(16) }]);
    expect(r['depthwise conv']).toBeCloseTo(0.042, 9);
    expect(r['first conv']).toBeCloseTo(0.005, 9);
  });

  it('formats a range of ratios', () => {
    expect(fmtRange([0.891, 0.5, NaN], 2, 'x')).toBe('0.50-0.89x');
    expect(fmtRange([], 2)).toBe('-');
  });
});

describe('bench: trimmed mean', () => {
  it('drops the slowest and fastest tenth, keeps sub-unit resolution of whole-number samples', () => {
    expect(trimmedMean([...Array(9).fill(4), ...Array(9).fill(5), 900, 0])).toBeCloseTo(4.5, 9);
    expect(trimmedMean([3, NaN])).toBe(3);
    expect(trimmedMean([])).toBeNaN();
  });
});
