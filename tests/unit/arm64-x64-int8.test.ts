import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { importModel } from '../../src/importers/index.js';
import { loadImageRgb } from '../../src/image/load.js';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { compareConv, findQConvs } from '../../scripts/arm64/intref.js';
import type { Golden } from '../../scripts/arm64/check.js';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

/**
 * x64 is not a reference for int8 in general: without VNNI, onnxruntime's u8 x s8 kernels add pairs of products in
 * int16 with saturation. This file states which case this machine is in and checks what holds for edgefit's models.
 */
const flags = new Set((readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
const isX64 = process.arch === 'x64';
const vnni = flags.has('avx512_vnni') || flags.has('avx_vnni');
const cpuState = !isX64 ? `not x64 (${process.arch})` : vnni ? 'x64 WITH VNNI' : 'x64 WITHOUT VNNI';
const golden = JSON.parse(readFileSync(join(projectRoot, 'tests', 'golden', 'arm64', 'outputs.json'), 'utf8')) as Golden;

/** Steps of the uint8 output a float-computed op (QLinearAdd, pooling, softmax) may move it between CPU families. */
const FLOAT_OP_TOLERANCE = 8;

async function runX64(model: string): Promise<Record<string, number[]>> {
  const g = golden.models[model]!;
  const { onnx, card } = await importModel(join(sharedData, 'models', 'tflite', `${model}.tflite`));
  const dir = await mkdtemp(join(tmpdir(), 'edgefit-x64int8-'));
  try {
    await writeFile(join(dir, 'm.onnx'), onnx);
    const engine = await OrtEngine.load(join(dir, 'm.onnx'), { providers: ['cpu'], threads: 1, resolution: card.resolution!, outputScale: 1, outputZeroPoint: 0 });
    const out: Record<string, number[]> = {};
    for (const [photo, e] of Object.entries(g.frames)) {
      const px = await loadImageRgb(join(sharedData, 'images', 'test', photo), card.resolution!);
      const { createHash } = await import('node:crypto');
      expect(createHash('sha256').update(px).digest('hex'), `${photo}: the decoded pixels changed since the goldens were recorded`).toBe(e.pixelsSha256);
      out[photo] = Array.from((await engine.run(px)).scores);
    }
    await engine.close();
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe(`int8 on this CPU (${cpuState}) against the arm64 goldens and an exact integer reference`, () => {
  it.runIf(isX64)(`${cpuState}: MobileNet-v1 (uint8 weights, u8u8 kernels) is bit-exact with the arm64 goldens`, async () => {
    const got = await runX64('mobilenet_v1_0.25_128_quant');
    for (const [photo, e] of Object.entries(golden.models['mobilenet_v1_0.25_128_quant']!.frames)) {
      expect(got[photo], photo).toEqual(e.output);
    }
  });

  it.runIf(isX64)(`${cpuState}: MobileNet-v2 agrees with the arm64 goldens on top-1 and within ${FLOAT_OP_TOLERANCE} steps (residual Adds are float-computed)`, async () => {
    const got = await runX64('mobilenet_v2_1.0_224_quant');
    const argmax = (a: number[]) => a.indexOf(Math.max(...a));
    const report: string[] = [];
    for (const [photo, e] of Object.entries(golden.models['mobilenet_v2_1.0_224_quant']!.frames)) {
      const g = got[photo]!;
      let max = 0, n = 0;
      for (let i = 0; i < g.length; i++) { const d = Math.abs(g[i]! - e.output[i]!); if (d) { n++; max = Math.max(max, d); } }
      report.push(`${photo}: ${n === 0 ? 'exact' : `${n} values differ, max ${max} steps`}`);
      expect(argmax(g), photo).toBe(argmax(e.output));
      expect(max, photo).toBeLessThanOrEqual(FLOAT_OP_TOLERANCE);
    }
    console.log(`[${cpuState}] mobilenet_v2 vs arm64 goldens: ${report.join('; ')}`);
  });

  it.runIf(isX64)(`${cpuState}: a conv with full-range int8 weights ${vnni ? 'is exact (VNNI)' : 'is NOT exact (u8s8 int16 saturation)'}; the same weights as uint8+128 are exact`, async () => {
    // 3x3 conv, 32 input channels, weights +-127 and bright pixels: pairs of u8*s8 products overflow int16
    const cin = 32, cout = 16, h = 12;
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    const w8 = Int8Array.from({ length: cout * cin * 9 }, () => (rnd() < 0.5 ? -127 : 127) * (rnd() < 0.8 ? 1 : Math.round(rnd())));
    const x = Uint8Array.from({ length: cin * h * h }, () => 200 + Math.floor(rnd() * 56));
    const build = (unsigned: boolean) => {
      const b = new OnnxBuilder('x64_int8_probe');
      const xin = b.input('x', DataType.UINT8, [1, cin, h, h]);
      b.initializer('xs', [], new Float32Array([0.02]));
      b.initializer('xz', [], new Uint8Array([0]));
      if (unsigned) {
        b.initializer('w', [cout, cin, 3, 3], Uint8Array.from(w8, (v) => v + 128));
        b.initializer('wz', [], new Uint8Array([128]));
      } else {
        b.initializer('w', [cout, cin, 3, 3], w8);
        b.initializer('wz', [], new Int8Array([0]));
      }
      b.initializer('ws', [], new Float32Array([0.01]));
      b.initializer('ys', [], new Float32Array([1.5]));
      b.initializer('yz', [], new Uint8Array([128]));
      const dx = b.op('DequantizeLinear', [xin, 'xs', 'xz'], {}, 'dqx', 'dx');
      const dw = b.op('DequantizeLinear', ['w', 'ws', 'wz'], {}, 'dqw', 'dw');
      const c = b.op('Conv', [dx, dw], { pads: [1, 1, 1, 1] }, 'conv', 'c');
      const y = b.op('QuantizeLinear', [c, 'ys', 'yz'], {}, 'q', 'y');
      b.output(y, DataType.UINT8, [1, cout, h, h]);
      return b.toBytes();
    };
    const results: Record<string, { mismatches: number; maxDiff: number }> = {};
    for (const unsigned of [false, true]) {
      const bytes = build(unsigned);
      const conv = findQConvs(readOnnx(bytes)).convs[0]!;
      const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
      const out = await s.run({ x: new ort.Tensor('uint8', x, [1, cin, h, h]) });
      await s.release();
      const y = out['y']!;
      results[unsigned ? 'uint8+128' : 'int8'] = compareConv(conv, x, [1, cin, h, h], y.data as Uint8Array, y.dims.map(Number));
    }
    console.log(`[${cpuState}] full-range weights vs exact integer conv: int8 ${JSON.stringify(results['int8'])}, uint8+128 ${JSON.stringify(results['uint8+128'])}`);
    expect(results['uint8+128']!.mismatches).toBe(0);
    if (vnni) expect(results['int8']!.mismatches).toBe(0);
    // If this starts failing, onnxruntime stopped saturating: update docs/arm.md and src/device/cpu.ts (assessInt8).
    else expect(results['int8']!.mismatches).toBeGreaterThan(0);
  });
});
