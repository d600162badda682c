import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importModel } from '../../src/importers/index.js';
import { OrtEngine, ortVersion } from '../../src/engine/onnxruntime.js';
import { optimizedModel } from '../../src/engine/optimized-model.js';
import { sharedData } from '../../src/util/paths.js';
import { testFrame } from '../helpers/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-optimized-'));

describe("onnxruntime's optimized graph kept between loads", () => {
  it('is made once per model, and a session from it gives bit-identical scores', async () => {
    // a real int8 QDQ model (its optimized graph holds QLinearConv) and a real fp32 one (NCHWc convs)
    const int8 = await importModel(join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite'));
    const fp32 = await importModel(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'));
    const cache = join(dir, 'cache');
    for (const [name, bytes, res] of [['int8', int8.onnx, 128], ['fp32', fp32.onnx, 224]] as const) {
      const model = join(dir, `${name}.onnx`);
      writeFileSync(model, bytes);
      const plain = await OrtEngine.load(model, { providers: ['cpu'], threads: 1, resolution: res });
      const cached = await OrtEngine.load(model, { providers: ['cpu'], threads: 1, resolution: res, optimizedCacheDir: cache });
      for (const seed of [1, 2, 3]) {
        const f = testFrame(res, seed);
        const a = Float32Array.from((await plain.run(f)).scores);
        const b = Float32Array.from((await cached.run(f)).scores);
        expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer)), `${name} seed ${seed}`).toBe(true);
      }
      await plain.close();
      await cached.close();
    }
    const files = readdirSync(cache).filter((f) => f.endsWith('.onnx'));
    expect(files).toHaveLength(2);
    // a second request finds the file made by the first and does not make it again
    const m = join(dir, 'int8.onnx');
    const first = (await optimizedModel(m, cache, ortVersion()))!;
    const t = statSync(first).mtimeMs;
    expect(await optimizedModel(m, cache, ortVersion())).toBe(first);
    expect(statSync(first).mtimeMs).toBe(t);
    // another runtime version is another graph
    expect(await optimizedModel(m, cache, `${ortVersion()}-other`)).not.toBe(first);
  });

  it('a damaged cached graph is dropped and the model itself loads; a model it cannot optimize is loaded as before', async () => {
    const { onnx } = await importModel(join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite'));
    const model = join(dir, 'm.onnx');
    writeFileSync(model, onnx);
    const cache = join(dir, 'cache2');
    const path = (await optimizedModel(model, cache, ortVersion()))!;
    writeFileSync(path, 'not an onnx model');
    const e = await OrtEngine.load(model, { providers: ['cpu'], threads: 1, resolution: 128, optimizedCacheDir: cache });
    expect((await e.run(testFrame(128, 1))).scores.length).toBe(1001);
    await e.close();
    expect(() => statSync(path)).toThrow();
    const warnings: string[] = [];
    expect(await optimizedModel(join(dir, 'missing.onnx'), cache, ortVersion(), (m) => warnings.push(m))).toBeUndefined();
    expect(warnings[0]).toMatch(/optimizing at every load/);
  });
});
