import { mkdtempSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrtBinding } from '../../src/engine/ort-binding.js';
import { probeModel, probeProviders } from '../../src/device/providers.js';

const req = createRequire(import.meta.url);
const stockPkg = dirname(req.resolve('onnxruntime-node/package.json'));
const stockBin = join(stockPkg, 'bin', 'napi-v6', process.platform, process.arch);
const tmp = mkdtempSync(join(tmpdir(), 'edgefit-binding-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function relu(ort: Awaited<ReturnType<typeof loadOrtBinding>>['ort']): Promise<number[]> {
  const s = await ort.InferenceSession.create(probeModel(), { executionProviders: ['cpu'] });
  const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([1, -2, 3, -4]), [1, 4]) });
  await s.release();
  return Array.from(out['y']!.data as Float32Array);
}

describe('loadOrtBinding (engine.ortLibraryPath)', () => {
  it('loads the bundled onnxruntime-node when the path is empty', async () => {
    const b = await loadOrtBinding('');
    expect(b.kind).toBe('bundled');
    expect(b.version).toMatch(/^\d+\.\d+/);
    expect(await relu(b.ort)).toEqual([1, 0, 3, 0]);
    expect(await loadOrtBinding()).toBe(b);
  });

  it('loads a directory holding onnxruntime_binding.node + libonnxruntime.so.1 (a custom build copied out) and runs a real session', async () => {
    const dir = join(tmp, 'jetpack-build');
    mkdirSync(dir);
    // stands in for a CUDA/TensorRT build: same file layout, this machine's binaries
    symlinkSync(join(stockBin, 'onnxruntime_binding.node'), join(dir, 'onnxruntime_binding.node'));
    symlinkSync(join(stockBin, 'libonnxruntime.so.1'), join(dir, 'libonnxruntime.so.1'));
    const b = await loadOrtBinding(dir, { cacheDir: join(tmp, 'cache') });
    expect(b.kind).toBe('binary');
    expect(b.path).toBe(realpathSync(dir));
    expect(await relu(b.ort)).toEqual([1, 0, 3, 0]);
    // the provider probe accepts the loaded module as a binding and proves its CPU provider
    const p = await probeProviders(b.ort as never);
    expect(p.usable).toContain('cpu');
    // loaded once per directory and process (a native runtime cannot be unloaded)
    expect(await loadOrtBinding(dir)).toBe(b);
  });

  it('loads an onnxruntime-node package directory', async () => {
    const b = await loadOrtBinding(stockPkg);
    expect(b.kind).toBe('package');
    expect(await relu(b.ort)).toEqual([1, 0, 3, 0]);
  });

  it('names what is missing', async () => {
    await expect(loadOrtBinding(join(tmp, 'nope'))).rejects.toThrow(/nope: does not exist/);

    const onlyLib = join(tmp, 'only-lib');
    mkdirSync(onlyLib);
    writeFileSync(join(onlyLib, 'libonnxruntime.so.1.20.0'), '');
    await expect(loadOrtBinding(onlyLib)).rejects.toThrow(/holds libonnxruntime\.so\.1\.20\.0 but no onnxruntime_binding\.node/);

    const onlyBinding = join(tmp, 'only-binding');
    mkdirSync(onlyBinding);
    writeFileSync(join(onlyBinding, 'onnxruntime_binding.node'), '');
    await expect(loadOrtBinding(onlyBinding)).rejects.toThrow(/no libonnxruntime\.so\.1 beside it/);

    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    await expect(loadOrtBinding(empty)).rejects.toThrow(/neither an onnxruntime-node package\.json nor onnxruntime_binding\.node/);

    writeFileSync(join(tmp, 'model.onnx'), '');
    await expect(loadOrtBinding(join(tmp, 'model.onnx'))).rejects.toThrow(/neither onnxruntime_binding\.node nor libonnxruntime/);

    // a binding that is not a loadable shared object: the loader's error is kept and the CUDA hint given
    const broken = join(tmp, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'onnxruntime_binding.node'), 'not an ELF file');
    writeFileSync(join(broken, 'libonnxruntime.so.1'), 'not an ELF file');
    await expect(loadOrtBinding(broken, { cacheDir: join(tmp, 'cache') })).rejects.toThrow(/the binding failed to load .*CUDA, cuDNN and TensorRT libraries/);

    const pkgNoDeps = join(tmp, 'pkg-no-binding');
    mkdirSync(pkgNoDeps);
    writeFileSync(join(pkgNoDeps, 'package.json'), JSON.stringify({ name: 'onnxruntime-node', main: 'dist/index.js' }));
    await expect(loadOrtBinding(pkgNoDeps)).rejects.toThrow(/onnxruntime-node package without a native binding/);
  });
});
