import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOnnxMetadata } from '../../src/util/onnx-metadata.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { importModel } from '../../src/importers/index.js';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { sharedData } from '../../src/util/paths.js';
import { tinyClassifier } from '../helpers/tiny-model.js';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType } from '../../src/onnx/proto.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-model-file-'));

function withMetadata(meta: Record<string, string>, weights = 16): Uint8Array {
  const b = new OnnxBuilder('m');
  const x = b.input('x', DataType.FLOAT, [1, weights]);
  const y = b.op('Mul', [x, b.initializer('w', [1, weights], new Float32Array(weights).map((_, i) => i))]);
  b.output(y, DataType.FLOAT, [1, weights]);
  Object.assign(b.metadata, meta);
  return b.toBytes();
}

describe('readOnnxMetadata: the metadata of an ONNX file without its graph', () => {
  it('reads what the full parser reads, on an imported int8 model (metadata after a 500 KB graph)', async () => {
    const { onnx } = await importModel(join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite'));
    const path = join(dir, 'v1q.onnx');
    writeFileSync(path, onnx);
    const full = new Map((readOnnx(onnx, path).metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
    expect(full.get('edgefit.output.scale')).toBeDefined();
    expect(await readOnnxMetadata(path)).toEqual(full);
  });

  it('keeps every entry, unicode and a graph larger than its read chunk included', async () => {
    const meta = { a: '1', 'edgefit.output.scale': '0.00390625', 'ünï': 'cödé ✓', empty: '' };
    const path = join(dir, 'meta.onnx');
    writeFileSync(path, withMetadata(meta, 100_000));
    expect(Object.fromEntries(await readOnnxMetadata(path))).toEqual(meta);
  });

  it('an empty map for a model without metadata', async () => {
    const path = join(dir, 'tiny.onnx');
    writeFileSync(path, tinyClassifier());
    expect((await readOnnxMetadata(path)).size).toBe(0);
  });

  it('refuses a truncated file and a file that is not protobuf', async () => {
    const bytes = withMetadata({ k: 'v' }, 1000);
    const cut = join(dir, 'cut.onnx');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
    await expect(readOnnxMetadata(cut)).rejects.toThrow(/not a valid ONNX file/);
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from('this is a text file, not a model\n'));
    await expect(readOnnxMetadata(junk)).rejects.toThrow(/not a valid ONNX file/);
  });
});

describe('OrtEngine.load gives onnxruntime the path', () => {
  it('a missing file or a directory is E_MODEL_MISSING with what to do', async () => {
    await expect(OrtEngine.load(join(dir, 'nope.onnx'), { providers: ['cpu'], threads: 1 })).rejects.toMatchObject({ code: 'E_MODEL_MISSING', message: expect.stringMatching(/models pull/) });
    const d = join(dir, 'a-dir.onnx');
    mkdirSync(d);
    await expect(OrtEngine.load(d, { providers: ['cpu'], threads: 1 })).rejects.toMatchObject({ code: 'E_MODEL_MISSING' });
  });

  it('an integer output without its scale in the metadata is refused', async () => {
    const b = new OnnxBuilder('q');
    const x = b.input('pixels', DataType.UINT8, [1, 4, 4, 3]);
    const flat = b.op('Reshape', [x, b.initializer('shape', [2], new BigInt64Array([1n, 48n]))]);
    b.output(flat, DataType.UINT8, [1, 48]);
    const path = join(dir, 'q.onnx');
    writeFileSync(path, b.toBytes());
    await expect(OrtEngine.load(path, { providers: ['cpu'], threads: 1 })).rejects.toMatchObject({ code: 'E_MODEL_IO', message: expect.stringMatching(/edgefit.output.scale/) });
  });
});
