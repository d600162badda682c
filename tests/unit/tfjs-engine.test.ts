import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineContract } from '../contract/engine.js';
import { tinyClassifier } from '../helpers/tiny-model.js';
import { tfjsEngineFactory } from '../../src/engine/tfjs/index.js';
import { engineFactory } from '../../src/engine/registry.js';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import { graphFromOnnx } from '../../src/onnx/to-graph.js';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';
import { buildGraph } from '../../src/zoo/registry.js';
import { foldBatchNorm } from '../../src/zoo/fold.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-tfjs-'));
const write = (name: string, bytes: Uint8Array) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
const tiny = write('tiny32.onnx', tinyClassifier({ resolution: 32 }));
const shuffle = write('shufflenet-any.onnx', emitOnnx(buildGraph({ family: 'shufflenet_v1', alpha: 0.25, resolution: 64, classes: 20, seed: 3, options: { groups: 3 } }), { dynamicResolution: true, normalize: { scale: [0.017, 0.0175, 0.0171], offset: [-2.1, -2.0, -1.8] } }));
const squeeze = write('squeezenet-64.onnx', emitOnnx(buildGraph({ family: 'squeezenet', resolution: 64, classes: 12, seed: 4, options: { version: '1.0', softmax: true } }), { foldBn: false }));

const reference = (path: string, resolution?: number) => async (f: Uint8Array) => {
  const e = await OrtEngine.load(path, { providers: ['cpu'], threads: 1, resolution });
  const s = (await e.run(f)).scores.slice();
  await e.close();
  return s;
};

engineContract('tfjs, hand-written ONNX (Mul/Sub preprocessing, Clip, softmax)', () => tfjsEngineFactory.load(tiny, { providers: ['tfjs-node', 'tfjs-wasm'], threads: 1 }), { resolution: 32, classes: 10, reference: reference(tiny) });
engineContract('tfjs, emitted ShuffleNet with symbolic H/W at 80 and per-channel normalisation', () => tfjsEngineFactory.load(shuffle, { providers: ['tfjs-wasm'], threads: 1, resolution: 80 }), { resolution: 80, classes: 20, reference: reference(shuffle, 80) });
engineContract('tfjs from the engine registry, unfolded-BN SqueezeNet with softmax', async () => (await engineFactory('tfjs')).load(squeeze, { providers: ['tfjs-wasm'], threads: 1 }), { resolution: 64, classes: 12, reference: reference(squeeze) });

describe('graphFromOnnx', () => {
  it('reads back what emitOnnx wrote: same layers, same weights after folding', () => {
    const g = buildGraph({ family: 'mobilenet_v2', alpha: 0.35, resolution: 96, classes: 10, seed: 1 });
    const { graph, normalize, dynamic } = graphFromOnnx(emitOnnx(g));
    expect(dynamic).toBe(false);
    expect(normalize.scale.map((v) => v * 127.5)).toEqual([1, 1, 1].map((v) => expect.closeTo(v, 6)));
    expect(normalize.offset).toEqual([-1, -1, -1]);
    expect(graph.meta).toMatchObject({ family: 'mobilenet_v2', resolution: 96, classes: 10 });
    const ops = (x: typeof g) => x.layers.map((l) => l.op).filter((o) => o !== 'bn');
    expect(ops(graph)).toEqual(ops(g));
    expect(graph.layers.some((l) => l.op === 'bn')).toBe(false);
    const folded = foldBatchNorm(g);
    const convW = (x: typeof g) => x.layers.filter((l) => l.op === 'conv').map((l) => [x.params.get(`${l.name}.weight`)!.data, x.params.get(`${l.name}.bias`)!.data]);
    expect(convW(graph)).toEqual(convW(folded));
  });

  it('refuses what the TensorFlow.js engine cannot run, naming the op', () => {
    const b = new OnnxBuilder('q');
    const x = b.input('pixels', DataType.UINT8, [1, 8, 8, 3]);
    let y = b.op('Cast', [x], { to: DataType.FLOAT });
    y = b.op('Transpose', [y], { perm: [0, 3, 1, 2] });
    y = b.op('Sigmoid', [y]);
    b.output(y, DataType.FLOAT, [1, 3, 8, 8]);
    expect(() => graphFromOnnx(b.toBytes(), { source: 'x.onnx' })).toThrow(/x\.onnx: op Sigmoid is not supported.*onnxruntime engine/);
    const f = new OnnxBuilder('f');
    const fx = f.input('input', DataType.FLOAT, [1, 3, 8, 8]);
    f.output(f.op('Relu', [fx]), DataType.FLOAT, [1, 3, 8, 8]);
    expect(() => graphFromOnnx(f.toBytes())).toThrow(/not uint8 \[1, H, W, 3\]/);
  });

  it('refuses a symbolic model without a resolution', async () => {
    await expect(tfjsEngineFactory.load(shuffle, { providers: ['tfjs-wasm'], threads: 1 })).rejects.toThrow(/give the resolution/);
    await expect(tfjsEngineFactory.load(join(dir, 'missing.onnx'), { providers: ['tfjs-wasm'], threads: 1 })).rejects.toThrow(/cannot be read/);
  });
});
