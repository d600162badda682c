import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EdgefitError } from '../util/errors.js';
import { probeBoard } from './board.js';
import { recordedCommands, runCommand as liveRunCommand, type RunCommand } from './commands.js';
import { archFromCpuinfo, parseCpuinfo, probeCpu } from './cpu.js';
import { FsRoot } from './fsroot.js';
import { probeMemory } from './memory.js';
import { loadOrt, probeProviders, type OrtBindingLike } from './providers.js';
import { withTfjsProviders } from './providers-tfjs.js';
import { probeThermal, readThrottle } from './thermal.js';
import type { DeviceInfo, PiThrottle, ProvidersInfo } from './types.js';

export interface ProbeOptions {
  /** filesystem root; '/' (default) probes this machine, a recorded tree (tests/fixtures/boards/*) otherwise */
  root?: string;
  /** runs `vcgencmd` and friends; defaults to real commands on '/', to `<root>/commands/*.txt` otherwise */
  runCommand?: RunCommand;
  /**
   * onnxruntime binding whose providers are proven. Default: the real onnxruntime-node on '/', none (providers
   * 'skipped') on a recorded tree, because this machine's runtime says nothing about the recorded board.
   * null skips the provider probe.
   */
  ort?: OrtBindingLike | null;
  /** silence ORT's own stderr logging (the probe reports failures itself); process-wide, so only for the CLI */
  quietOrt?: boolean;
}

export async function probeDevice(opts: ProbeOptions = {}): Promise<DeviceInfo> {
  const root = resolve(opts.root ?? '/');
  const st = await stat(root).catch(() => null);
  if (!st?.isDirectory()) {
    throw new EdgefitError('E_DEVICE_ROOT', `device probe: root ${root} is not a directory; pass --root a recorded tree such as tests/fixtures/boards/pi4, or omit it`);
  }
  const fs = new FsRoot(root);
  const run = opts.runCommand ?? commandsOf(root);

  const cpuinfo = parseCpuinfo((await fs.text('/proc/cpuinfo')) ?? '');
  const arch = fs.live ? process.arch : (archFromCpuinfo(cpuinfo.processors) ?? 'unknown');

  const cpu = await probeCpu(fs, arch);
  const board = await probeBoard(fs, arch, cpu.part);
  const memory = await probeMemory(fs);
  const thermal = await probeThermal(fs, board.kind.startsWith('raspberry-pi'), run);

  let providers: ProvidersInfo;
  if (opts.ort === null || (opts.ort === undefined && !fs.live)) {
    providers = { status: 'skipped', ortVersion: null, listed: [], checks: [], usable: [], error: null };
  } else if (opts.ort) {
    providers = await probeProviders(opts.ort, opts.ort.simulated ? 'simulated' : 'probed');
  } else {
    const loaded = await loadOrt({ quiet: opts.quietOrt ?? false });
    providers = await withTfjsProviders(loaded.ort
      ? await probeProviders(loaded.ort)
      : { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error: loaded.error });
  }

  return { board, cpu, memory, thermal, providers, root };
}

/** Real commands on '/', the outputs recorded under a recorded tree otherwise (re-read at every call). */
function commandsOf(root: string): RunCommand {
  return root === '/' ? liveRunCommand : recordedCommands(root);
}

/**
 * The throttle state of a probed device as it is now, read as the probe read it (its commands, or the recorded
 * tree's outputs, which a test rewrites to make the board throttle); undefined when the board cannot report it.
 */
export function throttleReader(info: Pick<DeviceInfo, 'board' | 'root'>, run: RunCommand = commandsOf(info.root)): (() => Promise<PiThrottle | null>) | undefined {
  if (!info.board.kind.startsWith('raspberry-pi')) return undefined;
  return () => readThrottle(run);
}

/**
 * The tree the daemon probes: this machine, or the recorded board EDGEFIT_TEST_DEVICE_ROOT names (test harnesses
 * only: a board whose throttle state a test switches at run time).
 */
export function daemonDeviceRoot(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.EDGEFIT_TEST_DEVICE_ROOT || undefined;
}

function slug(s: string): string {
  return s.toLowerCase().replace(/\((r|tm)\)/g, '').replace(/[^a-z0-9.]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * A stable key for caches of measurements (profiles): boards that share it run models at the same speed with the
 * same kernels. Board kind, CPU model, core count, int8-relevant features and the onnxruntime version; nothing
 * that changes between boots (temperature, free memory).
 */
export function boardFingerprint(info: DeviceInfo): string {
  const features = info.cpu.features.filter((f) => f.present).map((f) => f.name).sort();
  return [
    info.board.kind,
    // a CPU quota (a container's --cpus) runs models as a smaller board would
    `${slug(info.cpu.model)}-x${info.cpu.cores}${info.cpu.quotaCores !== undefined ? `q${info.cpu.quotaCores}` : ''}`,
    features.length > 0 ? features.join('.') : 'nofeatures',
    `ort-${info.providers.ortVersion ?? 'none'}`,
  ].join('_');
}
