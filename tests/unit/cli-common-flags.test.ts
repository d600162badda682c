import { describe, it, expect, afterAll, vi } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../../src/cli/commands.js';
import { sharedData } from '../../src/util/paths.js';

/** The commands that read the configuration: each takes the same --config, --set and --state-dir. */
const configCommands = ['run', 'models pull', 'models list', 'models ladder', 'profile', 'select', 'config'];

async function program(): Promise<Command> {
  const p = new Command().exitOverride();
  for (const [name, load] of Object.entries(commands)) if (name !== 'classify') (await load())(p);
  return p;
}

function find(p: Command, path: string): Command {
  let c = p;
  for (const name of path.split(' ')) c = c.commands.find((x) => x.name() === name)!;
  expect(c, path).toBeDefined();
  return c;
}

describe('the common configuration flags (issue 15, item 8)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-cli-common-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(configCommands)('%s takes --config, --set and --state-dir', async (path) => {
    const c = find(await program(), path);
    const flags = c.options.map((o) => o.long);
    expect(flags).toEqual(expect.arrayContaining(['--config', '--set', '--state-dir']));
  });

  it('models pull --state-dir stores the models there', async () => {
    const stateDir = join(dir, 'state');
    const p = await program();
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true; });
    try {
      await p.parseAsync(['node', 'edgefit', 'models', 'pull', '--state-dir', stateDir, '--mirror', sharedData, '--only', 'mobilenet_v1-0.25-128-int8']);
    } finally {
      spy.mockRestore();
    }
    expect(out).toContain(`stored in ${stateDir}/models`);
    expect(readdirSync(join(stateDir, 'models'), { recursive: true }).map(String)).toContain(join('download', 'models', 'tflite', 'mobilenet_v1_0.25_128_quant.tflite'));
  }, 120_000);

  it('config --state-dir sets stateDir, as a flag', async () => {
    const p = await program();
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true; });
    try {
      await p.parseAsync(['node', 'edgefit', 'config', '--json', '--state-dir', join(dir, 's2')]);
    } finally {
      spy.mockRestore();
    }
    const printed = JSON.parse(out) as { config: { stateDir: string }; sources: Record<string, string> };
    expect(printed.config.stateDir).toBe(join(dir, 's2'));
    expect(printed.sources.stateDir).toBe('flag');
  });
});
