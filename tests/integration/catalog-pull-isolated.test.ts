import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullModelsIsolated } from '../../src/catalog/pull-isolated.js';
import { loadConfig } from '../../src/config/index.js';
import { sharedData } from '../../src/util/paths.js';

const work = mkdtempSync(join(tmpdir(), 'edgefit-pull-isolated-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const configFor = (stateDir: string, mirror = sharedData) =>
  loadConfig({ env: {}, overrides: { stateDir, 'models.mirror': mirror }, host: { hostname: 't', isRoot: false, home: work } }).config;

describe('models pulled and converted in a child process (the daemon\'s pull-model)', () => {
  it('pulls and converts a model from a mirror directory: the report comes back, the files are in the state dir', async () => {
    const stateDir = join(work, 'a');
    const lines: string[] = [];
    const r = await pullModelsIsolated(configFor(stateDir), { only: ['mobilenet_v1-0.25-128-int8'] }, (l) => lines.push(l));
    expect(r.ok).toBe(true);
    const m = r.items.find((i) => i.id === 'mobilenet_v1-0.25-128-int8')!;
    expect(m).toMatchObject({ status: 'downloaded', usable: true, convert: 'converted' });
    expect(existsSync(m.onnxPath!)).toBe(true);
  });

  it('an error of the pull keeps its code (unknown id, bad mirror) and says nothing secret', async () => {
    await expect(pullModelsIsolated(configFor(join(work, 'b')), { only: ['no-such-model'] })).rejects.toMatchObject({ code: 'E_CATALOG' });
    const bad = pullModelsIsolated(configFor(join(work, 'c'), 'https://ops:hunter2@127.0.0.1:9/'), { only: ['mobilenet_v1-0.25-128-int8'] });
    await expect(bad).rejects.toMatchObject({ code: 'E_MIRROR' });
    await expect(bad).rejects.not.toThrow(/hunter2/);
  });

  it('a child that dies mid-pull (a converter crash) is an E_PULL error, not a crash of the caller', async () => {
    const dying = join(work, 'dying.mjs');
    writeFileSync(dying, "process.stderr.write('converting...\\n'); process.kill(process.pid, 'SIGKILL');\n");
    await expect(pullModelsIsolated(configFor(join(work, 'd')), {}, () => undefined, dying)).rejects.toMatchObject({
      code: 'E_PULL', message: expect.stringMatching(/ended with SIGKILL before answering \(converting\.\.\.\).*running model is unchanged/),
    });
  });
});
