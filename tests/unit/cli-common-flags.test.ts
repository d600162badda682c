import { describe, it, expect, afterAll, vi } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../../src/cli/commands.js';
import { sharedData } from '../../src/util/paths.js';
import { runConfig, type RunFlags } from '../../src/cli/run.js';

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

/**
 * `run --json` prints a line per frame unless the configuration chose mqtt.results.mode: decided on what the loaded
 * configuration says, not on whether --config was given (a file named by $EDGEFIT_CONFIG used to have its explicit
 * mode overridden, and a --config file without one lost the line per frame).
 */
describe('run --json and mqtt.results.mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-run-mode-'));
  const bare = join(dir, 'bare.yaml');
  const chosen = join(dir, 'chosen.yaml');
  writeFileSync(bare, 'budget:\n  latencyMs: 50\n');
  writeFileSync(chosen, 'mqtt:\n  results:\n    mode: threshold\n');
  const base: RunFlags = { stateDir: join(dir, 'state') };
  const mode = (flags: RunFlags, env: Record<string, string | undefined> = {}) => {
    vi.stubEnv('EDGEFIT_CONFIG', env.EDGEFIT_CONFIG);
    vi.stubEnv('EDGEFIT_MQTT_RESULTS_MODE', env.EDGEFIT_MQTT_RESULTS_MODE);
    try {
      return runConfig({ ...base, ...flags }).mqtt.results.mode;
    } finally {
      vi.unstubAllEnvs();
    }
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a file without a results mode: every frame, whether named by --config or by $EDGEFIT_CONFIG', () => {
    expect(mode({ json: true, config: bare })).toBe('every');
    expect(mode({ json: true }, { EDGEFIT_CONFIG: bare })).toBe('every');
    expect(mode({ json: true })).toBe('every');
  });

  it('a file that chose a results mode keeps it, whether named by --config or by $EDGEFIT_CONFIG', () => {
    expect(mode({ json: true, config: chosen })).toBe('threshold');
    expect(mode({ json: true }, { EDGEFIT_CONFIG: chosen })).toBe('threshold');
  });

  it('EDGEFIT_MQTT_RESULTS_MODE and --set choose too; without --json nothing changes', () => {
    expect(mode({ json: true, config: bare }, { EDGEFIT_MQTT_RESULTS_MODE: 'threshold' })).toBe('threshold');
    expect(mode({ json: true, set: ['mqtt.results.mode=threshold'] }, { EDGEFIT_CONFIG: bare })).toBe('threshold');
    expect(mode({ config: bare })).not.toBe('every');
    expect(mode({ config: bare })).toBe(mode({}));
  });
});
