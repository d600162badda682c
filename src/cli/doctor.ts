import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { diagnose } from '../device/doctor.js';
import { renderDoctor } from '../device/doctor-render.js';
import { createFakeOrt } from '../device/fake-ort.js';
import { probeDevice } from '../device/probe.js';
import { probeProvidersIsolated } from '../device/providers-isolated.js';
import { EdgefitError } from '../util/errors.js';
import { configFrom, withConfig, type ConfigFlags } from './config-flags.js';

interface DoctorFlags extends ConfigFlags {
  json?: boolean;
  root?: string;
  simulateProviders?: string;
}

const SIMULABLE = new Set(['cpu', 'cuda', 'tensorrt']);

export function register(program: Command): void {
  withConfig(program
    .command('doctor'))
    .description('probe this board (CPU int8 features, memory and cgroup limits, thermal, onnxruntime providers) and advise what to install')
    .option('--json', 'print the full probe and advice as JSON')
    .option('--root <dir>', 'read a recorded /proc, /sys and /etc tree instead of this machine (providers are then not probed)')
    .addOption(new Option('--simulate-providers <list>', 'with --root: a fake onnxruntime binding where these providers work (cpu,cuda,tensorrt), for documentation').hideHelp())
    .action(async (flags: DoctorFlags) => {
      // the settings the doctor checks against (camera.ffmpegPath); a bad configuration is refused here
      const config = configFrom(flags);
      let ort;
      if (flags.simulateProviders !== undefined) {
        if (!flags.root) throw new EdgefitError('E_FLAGS', '--simulate-providers only applies to a recorded tree: add --root <dir>');
        const names = flags.simulateProviders.split(',').map((s) => s.trim()).filter(Boolean);
        const bad = names.filter((n) => !SIMULABLE.has(n));
        if (bad.length > 0 || names.length === 0) {
          throw new EdgefitError('E_FLAGS', `--simulate-providers takes a comma list of cpu, cuda, tensorrt; got ${JSON.stringify(flags.simulateProviders)}`);
        }
        ort = createFakeOrt({ backends: names.map((name) => ({ name, bundled: true })), working: names });
      }
      // this machine: its providers proven as the daemon proves them, in a child process on the library the engine
      // loads (engine.ortLibraryPath, else the bundled onnxruntime-node); a recorded tree's are not probed
      const live = !ort && (flags.root === undefined || resolve(flags.root) === '/');
      const device = live
        ? await Promise.all([probeDevice({ root: flags.root, ort: null }), probeProvidersIsolated(config.engine.ortLibraryPath || undefined)]).then(([d, providers]) => ({ ...d, providers }))
        : await probeDevice({ root: flags.root, ort, quietOrt: true });
      const report = await diagnose(device, { ffmpegPath: config.camera.ffmpegPath, configuredProviders: config.engine.providers });
      process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : renderDoctor(report));
    });
}
