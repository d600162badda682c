import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { parseTflite, Op, TensorType, convOptions, poolOptions, opName } from '../../src/importers/tflite/schema.js';
import { FbReader } from '../../src/importers/tflite/flatbuf.js';
import { convertTflite } from '../../src/importers/tflite/index.js';
import { EdgefitError } from '../../src/util/errors.js';

const V1 = join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite');
const VWW = join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww_int8.tflite');
const TF2 = join(sharedData, 'models/tflite/tf2_mobilenet_v2_1.0_224_ptq.tflite');

/** mulberry32: a fixed-seed PRNG so the mutation loop is the same on every run */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function importOrEdgefitError(bytes: Uint8Array, label: string): 'ok' | 'refused' {
  try {
    convertTflite(bytes, label);
    return 'ok';
  } catch (err) {
    if (!(err instanceof EdgefitError)) throw new Error(`${label}: threw a non-EdgefitError: ${String(err)}`, { cause: err });
    expect(err.message.length).toBeGreaterThan(20);
    return 'refused';
  }
}

describe('TFLite schema accessors', () => {
  it('read the real files: tensors, quantization, options as the schema defines them', () => {
    const m = parseTflite(readFileSync(V1), V1);
    const input = m.tensors[m.inputs[0]!]!;
    expect(input.shape).toEqual([1, 128, 128, 3]);
    expect(input.type).toBe(TensorType.UINT8);
    expect(input.quant!.scale[0]).toBeCloseTo(0.0078125, 9);
    expect(input.quant!.zeroPoint[0]).toBe(128);
    const out = m.tensors[m.outputs[0]!]!;
    expect(out.shape).toEqual([1, 1001]);
    expect(out.quant!.scale[0]).toBeCloseTo(1 / 256, 9);
    const first = m.operators[0]!;
    expect(first.code).toBe(Op.CONV_2D);
    const o = convOptions(m, first);
    expect([o.padding, o.strideH, o.strideW, o.activation]).toEqual(['same', 2, 2, 'relu6']);
    const pool = m.operators.find((op) => op.code === Op.AVERAGE_POOL_2D)!;
    expect(poolOptions(m, pool)).toMatchObject({ padding: 'valid', filterH: 4, filterW: 4 });
    // weights: OHWI uint8 with a zero point; int32 bias
    expect(m.tensors[first.inputs[1]!]!.data!.length).toBe(8 * 3 * 3 * 3);
    expect(m.tensors[first.inputs[2]!]!.type).toBe(TensorType.INT32);
  });

  it('reads per-channel quantization (quantized_dimension) and builtin_code > 127 (QUANTIZE = 114)', () => {
    const m = parseTflite(readFileSync(TF2), TF2);
    expect(m.operators[0]!.code).toBe(Op.QUANTIZE);
    const dw = m.operators.find((op) => op.code === Op.DEPTHWISE_CONV_2D)!;
    const w = m.tensors[dw.inputs[1]!]!;
    expect(w.quant!.axis).toBe(3);
    expect(w.quant!.scale.length).toBe(w.shape[3]);
    expect(m.operators.some((op) => op.code === Op.MEAN)).toBe(true);
  });

  it('refuses offsets outside the buffer with the offset and field in the message', () => {
    const r = new FbReader(new Uint8Array(16), 'x.tflite');
    expect(() => r.u32(14, 'Model.version')).toThrow(/Model\.version.*offset 14/);
    expect(() => r.tableAt(0, 'Model')).toThrow(EdgefitError);
  });
});

describe('malformed TFLite files', () => {
  it('an unsupported op is refused with its name and index', () => {
    const bytes = new Uint8Array(readFileSync(V1));
    const m = parseTflite(bytes, V1);
    const pool = m.operators.find((op) => op.code === Op.AVERAGE_POOL_2D)!;
    // rewrite that op's OperatorCode to MAX_POOL_2D (17) in place
    const r = m.reader;
    const model = r.root('Model');
    const codes = r.tableVector(model, 1, 'operator_codes');
    const opTables = r.tableVector(r.tableVector(model, 2, 'subgraphs')[0]!, 3, 'operators');
    const codeIndex = r.scalarU32(opTables[pool.index]!, 0, 'opcode_index');
    const t = codes[codeIndex]!;
    const byte = r.field(t, 0, 1, 'deprecated_builtin_code');
    expect(byte).toBeGreaterThan(0);
    bytes[byte] = 17;
    const wide = r.field(t, 3, 4, 'builtin_code');
    if (wide) new DataView(bytes.buffer, bytes.byteOffset).setInt32(wide, 17, true);
    expect(() => convertTflite(bytes, 'maxpool.tflite')).toThrow(new RegExp(`operator ${pool.index} \\(MAX_POOL_2D\\) is not supported`));
  });

  /** the file with the zero points of the first `op`'s filter (input 1) overwritten in place: int64s in the flatbuffer */
  function withFilterZeroPoints(path: string, op: number, zp: (channel: number) => number): { bytes: Uint8Array; tensor: number } {
    const bytes = new Uint8Array(readFileSync(path));
    const m = parseTflite(bytes, path);
    const tensor = m.operators.find((o) => o.code === op)!.inputs[1]!;
    const r = m.reader;
    const tensors = r.tableVector(r.tableVector(r.root('Model'), 2, 'subgraphs')[0]!, 0, 'tensors');
    const v = r.vector(r.subtable(tensors[tensor]!, 4, 'quantization')!, 3, 8, 'zero_point')!;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let c = 0; c < v.n; c++) view.setBigInt64(v.start + 8 * c, BigInt(zp(c)), true);
    return { bytes, tensor };
  }

  it('a weight zero point outside its type is refused (it would wrap in the int8/uint8 forms the emitter writes)', () => {
    const cases: [path: string, op: number, zp: number, why: RegExp][] = [
      // the person detector's int8 per-channel conv filter; 200 stored as int8 would become 72 (-56 in u8 form)
      [VWW, Op.CONV_2D, 200, /is int8 with zero point 200, outside int8 \[-128, 127\]/],
      [VWW, Op.FULLY_CONNECTED, -129, /is int8 with zero point -129, outside int8/],
      // the uint8 per-tensor MobileNet's first filter
      [V1, Op.CONV_2D, 256, /is uint8 with zero point 256, outside uint8 \[0, 255\]/],
      [V1, Op.DEPTHWISE_CONV_2D, -1, /is uint8 with zero point -1, outside uint8/],
    ];
    for (const [path, op, zp, why] of cases) {
      const { bytes, tensor } = withFilterZeroPoints(path, op, () => zp);
      for (const emit of ['qdq', 'float'] as const) {
        let err: unknown;
        try { convertTflite(bytes, 'patched.tflite', { emit }); } catch (e) { err = e; }
        expect(err, `${opName(op)} zp ${zp} (${emit})`).toBeInstanceOf(EdgefitError);
        expect((err as EdgefitError).code).toBe('E_TFLITE_INVALID');
        expect((err as EdgefitError).message).toMatch(new RegExp(`tensor ${tensor} \\(`));
        expect((err as EdgefitError).message).toMatch(why);
        expect((err as EdgefitError).message).toMatch(/convert the model again/);
      }
    }
    // inside the range the same uint8 edit is a valid (different) model
    expect(() => convertTflite(withFilterZeroPoints(V1, Op.CONV_2D, () => 255).bytes, 'patched.tflite')).not.toThrow();
  });

  it('an int8 per-channel filter with a zero point other than 0 is refused (TFLite: per-axis int8 weights are symmetric)', () => {
    const { bytes, tensor } = withFilterZeroPoints(VWW, Op.CONV_2D, (c) => (c === 3 ? 5 : 0));
    expect(() => parseTflite(bytes, 'patched.tflite')).toThrow(new RegExp(`tensor ${tensor} \\(.*\\) is int8 quantized per channel with zero point 5 on channel 3; .*zero point 0`));
    expect(() => convertTflite(bytes, 'patched.tflite')).toThrow(EdgefitError);
  });

  it('truncated files are refused, never crash', () => {
    const bytes = readFileSync(VWW);
    const cuts = [0, 3, 7, 8, 64, 1000, bytes.length >> 1, bytes.length - 1000, bytes.length - 1];
    for (const n of cuts) expect(importOrEdgefitError(bytes.subarray(0, n), `truncated@${n}`)).toBe('refused');
  });

  it('random bytes are refused', () => {
    const next = rng(7);
    for (let i = 0; i < 20; i++) {
      const b = Uint8Array.from({ length: 64 + Math.floor(next() * 4000) }, () => Math.floor(next() * 256));
      if (i % 2) b.set([0x54, 0x46, 0x4c, 0x33], 4); // with the right identifier, so parsing goes deeper
      expect(importOrEdgefitError(b, `random${i}`)).toBe('refused');
    }
  });

  it('200 seeded byte mutations of a real model either import or throw EdgefitError', () => {
    const original = readFileSync(VWW);
    const m = parseTflite(original, VWW);
    // mutate the structure (everything but the big weight buffers) most of the time: that is where bugs hide
    const weightRanges = m.tensors.filter((t) => t.data && t.data.length > 256).map((t) => [t.data!.byteOffset - original.byteOffset, t.data!.byteOffset - original.byteOffset + t.data!.length]);
    const inWeights = (p: number) => weightRanges.some(([a, b]) => p >= a! && p < b!);
    const next = rng(20251128);
    const outcome = { ok: 0, refused: 0 };
    for (let i = 0; i < 200; i++) {
      const b = new Uint8Array(original);
      const edits = 1 + Math.floor(next() * 4);
      for (let e = 0; e < edits; e++) {
        let p = Math.floor(next() * b.length);
        for (let tries = 0; tries < 20 && inWeights(p); tries++) p = Math.floor(next() * b.length);
        b[p] = next() < 0.3 ? 0xff : Math.floor(next() * 256);
      }
      outcome[importOrEdgefitError(b, `mutation${i}`)]++;
    }
    expect(outcome.ok + outcome.refused).toBe(200);
    expect(outcome.refused).toBeGreaterThan(10); // the checks do fire
    console.log(`mutations: ${outcome.ok} imported, ${outcome.refused} refused with EdgefitError`);
  });
});
