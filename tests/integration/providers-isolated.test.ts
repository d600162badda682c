import { describe, it, expect } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeProvidersIsolated } from '../../src/device/providers-isolated.js';

describe('provider probe in a child process (runIsolated)', () => {
  it('proves cpu with a real onnxruntime session in the child', async () => {
    const info = await probeProvidersIsolated();
    expect(info.usable).toContain('cpu');
    expect(info.ortVersion).toMatch(/^\d+\.\d+/);
  });

  it('an ortLibraryPath that holds no onnxruntime: unavailable with the reason, never a rejection; TF.js still proven', async () => {
    const info = await probeProvidersIsolated(mkdtempSync(join(tmpdir(), 'edgefit-no-ort-')));
    expect(info.status).toBe('unavailable');
    // none of onnxruntime's providers; tfjs-wasm needs no onnxruntime and is proven by its own session (issue 21)
    expect(info.usable).toEqual(['tfjs-wasm']);
    expect(info.error).toMatch(/ortLibraryPath/);
  });

  it('a probe past its time is killed and reported, never a rejection', async () => {
    const info = await probeProvidersIsolated(undefined, 50);
    expect(info.status).toBe('unavailable');
    expect(info.error).toMatch(/the provider probe process failed \(killed after .* s without an answer/);
  });
});
