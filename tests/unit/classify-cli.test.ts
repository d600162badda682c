import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { importModel } from '../../src/importers/index.js';
import { EdgefitError } from '../../src/util/errors.js';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { onnx, DataType } from '../../src/onnx/proto.js';

const cli = (args: string[]) => spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), ...args], { encoding: 'utf8', timeout: 50_000 });
const model = join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite');
const labels = join(sharedData, 'labels/imagenet_labels_1001_coral.txt');
const img = (n: string) => join(sharedData, 'images/test', n);

describe('edgefit import / classify', () => {
  it('imports a .tflite to <name>.onnx + card, then classifies JPEG and BMP photos from the .onnx (JSON)', () => {
    const out = mkdtempSync(join(tmpdir(), 'edgefit-import-'));
    const r = cli(['import', model, '--labels', labels, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const card = JSON.parse(readFileSync(join(out, 'mobilenet_v1_0.25_128_quant.card.json'), 'utf8'));
    expect(card).toMatchObject({ family: 'mobilenet_v1', alpha: 0.25, resolution: 128, anyResolution: true, classes: 1001, background: true });
    const c = cli(['classify', join(out, 'mobilenet_v1_0.25_128_quant.onnx'), img('parrot.jpg'), img('cat.bmp'), '--top', '3', '--json']);
    expect(c.status, c.stderr).toBe(0);
    const res = JSON.parse(c.stdout) as { path: string; top: { label: string; score: number }[] }[];
    expect(res.map((x) => x.path)).toEqual([img('parrot.jpg'), img('cat.bmp')]);
    expect(res[0]!.top).toHaveLength(3);
    expect(res[0]!.top[0]!.label).toBe('macaw');
    expect(res[0]!.top[0]!.score).toBeGreaterThan(0.5);
    expect(res[0]!.top[0]!.score).toBeLessThanOrEqual(1);
    expect(res[1]!.top[0]!.label).toMatch(/cat/);
    // any-resolution model at another size
    const c2 = cli(['classify', join(out, 'mobilenet_v1_0.25_128_quant.onnx'), img('parrot.jpg'), '--resolution', '160', '--top', '1']);
    expect(c2.status, c2.stderr).toBe(0);
    expect(c2.stdout).toMatch(/macaw/);
  });

  it('`infer` is the command and `classify` its alias: the same output; --draw is refused for a classifier', () => {
    const a = cli(['infer', model, img('parrot.jpg'), '--labels', labels, '--top', '1', '--json']);
    const b = cli(['classify', model, img('parrot.jpg'), '--labels', labels, '--top', '1', '--json']);
    expect(a.status, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    const d = cli(['infer', model, img('parrot.jpg'), '--draw', join(tmpdir(), 'never.jpg')]);
    expect(d.status).not.toBe(0);
    expect(d.stderr).toMatch(/--draw draws a detector's boxes/);
    expect(cli(['infer', model, img('parrot.jpg'), '--min-score', '2']).stderr).toMatch(/--min-score 2: expected a number from 0 to 1/);
  });

  it('classifies a .tflite on the fly (text output); refuses bad flags and files with a message', () => {
    const c = cli(['classify', model, img('hot_dog.jpg'), '--labels', labels, '--top', '2']);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout.split('\n').filter((l) => /^\s+\d\.\d{4}\s/.test(l))).toHaveLength(2);
    const bad = cli(['classify', model, img('cat.bmp'), '--top', 'zero']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--top zero/);
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-bad-'));
    writeFileSync(join(dir, 'junk.tflite'), 'not a model at all, just text');
    const junk = cli(['import', join(dir, 'junk.tflite'), '--out', dir]);
    expect(junk.status).not.toBe(0);
    expect(junk.stderr).toMatch(/not a valid TFLite file/);
    expect(existsSync(join(dir, 'junk.onnx'))).toBe(false);
  });

  it('refuses a model the engine refuses, with the engine\'s error (a uint8 output that does not say its scale)', () => {
    // the daemon's engine will not guess how to read an integer output; classify used to read it as q/256
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-noscale-'));
    const b = new OnnxBuilder('noscale');
    const x = b.input('pixels', DataType.UINT8, [1, 8, 8, 3]);
    const nchw = b.op('Transpose', [b.op('Cast', [x], { to: DataType.FLOAT })], { perm: [0, 3, 1, 2] });
    const flat = b.op('Flatten', [b.op('GlobalAveragePool', [nchw])]);
    b.output(b.op('Cast', [flat], { to: DataType.UINT8 }), DataType.UINT8, [1, 3]);
    writeFileSync(join(dir, 'noscale.onnx'), b.toBytes());
    const c = cli(['classify', join(dir, 'noscale.onnx'), img('cat.bmp'), '--top', '1']);
    expect(c.status, c.stdout).not.toBe(0);
    expect(c.stderr).toMatch(/does not say its scale \(edgefit\.output\.scale metadata\)/);
  });

  it('importModel: .onnx pass-through keeps the card; unknown types and external data are refused', async () => {
    const out = mkdtempSync(join(tmpdir(), 'edgefit-onnx-'));
    expect(cli(['import', model, '--out', out]).status).toBe(0);
    const r = await importModel(join(out, 'mobilenet_v1_0.25_128_quant.onnx'));
    expect(r.card.source.format).toBe('tflite');
    expect(r.card.classes).toBe(1001);
    await expect(importModel(join(out, 'x.pb'))).rejects.toThrow(/\.tflite, \.onnx and Keras \.h5/);
    await expect(importModel(join(out, 'missing.tflite'))).rejects.toBeInstanceOf(EdgefitError);
    // an initializer whose data lives in another file (data_location EXTERNAL) is refused
    const b = new OnnxBuilder('ext');
    const x = b.input('x', DataType.FLOAT, [1, 2]);
    const w = b.initializer('w', [2], new Float32Array([1, 2]));
    b.output(b.op('Add', [x, w]), DataType.FLOAT, [1, 2]);
    const m = b.toModel();
    const t = m.graph!.initializer![0]!;
    t.rawData = new Uint8Array();
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: 'weights.bin' }];
    writeFileSync(join(out, 'ext.onnx'), onnx.ModelProto.encode(m).finish());
    await expect(importModel(join(out, 'ext.onnx'))).rejects.toThrow(/external file \(weights\.bin\)/);
  });
});
