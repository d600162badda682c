import { describe, it, expect } from 'vitest';
import { byRole, type OpEvent } from '../../scripts/bench/opprofile.js';

/** the role byRole files one profiled node under */
const role = (e: Omit<OpEvent, 'us'>): string => Object.keys(byRole([{ ...e, us: 1000 }]))[0]!;

describe('bench: node times by role', () => {
  it('reads the TFLite importer\'s node names in an int8 graph (prepacked weights leave no shapes)', () => {
    expect(role({ name: 'conv0_token_0', op: 'QLinearConv' })).toBe('first conv');
    expect(role({ name: 'dwconv1_token_3', op: 'QLinearConv' })).toBe('depthwise conv');
    expect(role({ name: 'conv2_token_6', op: 'QLinearConv' })).toBe('pointwise conv');
    // conv10..conv19 are pointwise convs, not the zoo's first conv (conv1)
    expect(role({ name: 'conv10_token_30', op: 'QLinearConv' })).toBe('pointwise conv');
    expect(role({ name: 'fc29_token_82', op: 'QLinearConv' })).toBe('classifier, pooling, other');
    expect(role({ name: 'conv0_s2d_in', op: 'Reshape' })).toBe('classifier, pooling, other');
  });

  it('reads the weight dims of an fp32 graph whose NCHWc convs are named after their activation', () => {
    expect(role({ name: 'Relu_out_nchwc', op: 'Conv', inputs: [[1, 3, 96, 96], [16, 3, 3, 3], [16]] })).toBe('first conv');
    expect(role({ name: 'Relu_1_out_nchwc', op: 'Conv', inputs: [[1, 16, 48, 48], [16, 1, 3, 3], [16]] })).toBe('depthwise conv');
    expect(role({ name: 'Relu_2_out_nchwc', op: 'Conv', inputs: [[1, 8, 48, 48], [16, 8, 1, 1], [16]] })).toBe('pointwise conv');
    expect(role({ name: 'Relu_30_out_nchwc', op: 'Conv', inputs: [[1, 256, 1, 1], [1008, 256, 1, 1], [1008]] })).toBe('classifier, pooling, other');
    expect(role({ name: 'ReorderOutput_token_60', op: 'ReorderOutput' })).toBe('layout (Reorder/Transpose)');
  });

  it('keeps the zoo\'s names', () => {
    expect(role({ name: 'conv1', op: 'Conv' })).toBe('first conv');
    expect(role({ name: 'conv1_token_0', op: 'QLinearConv' })).toBe('first conv');
    expect(role({ name: 'b3.dw', op: 'Conv' })).toBe('depthwise conv');
    expect(role({ name: 'b3.pw_token_9', op: 'QLinearConv' })).toBe('pointwise conv');
  });

  it('sums the times of one role, in ms', () => {
    const r = byRole([{ name: 'dwconv1_token_3', op: 'QLinearConv', us: 30 }, { name: 'dwconv3_token_9', op: 'QLinearConv', us: 12 }]);
    expect(r['depthwise conv']).toBeCloseTo(0.042, 9);
  });
});
