// Fault-injection engines for the tests, registered from outside src/ (edgefit ships none): onnxruntime
// underneath, but after EDGEFIT_TEST_FAULT_AFTER runs (default 3, counted per worker, so a replaced worker runs
// normally again for that many frames) each run hangs forever (`fault-hang`), kills its worker (`fault-crash`), or
// blocks in a native call for EDGEFIT_TEST_FAULT_NATIVE_MS (`fault-native-hang`: a synchronous child process, which
// worker.terminate() cannot interrupt, as a stuck onnxruntime call would be). With EDGEFIT_TEST_FAULT_TRACE set,
// each load appends `load <epoch ms>` to that file, and each native hang `native-until <epoch ms it ends>`.
//
// Loaded in an engine worker through HostOptions.engineModules / the daemon's engine.modules (a worker runs no
// `--import` preload). EDGEFIT_TEST_FAULT_ENGINE names the one registered with priority 1000, so that the daemon,
// which asks for no engine by name, runs it; without it both are registered by name only.
// Plain JS: it is imported by compiled code, from the same compiled tree, so that it shares the worker's registry.
//
// Loads can fail too: EDGEFIT_TEST_FAULT_LOADS is a comma list of what each load does, in order across all the
// workers of the process (the last one repeats): `ok` loads, `fail` throws E_ENGINE_LOAD, `exit` ends the worker
// (exit code 71) before it answers, `hang` never finishes (a timer keeps the worker alive). The loads are counted
// in the file EDGEFIT_TEST_FAULT_LOAD_COUNT, which the workers share (each is an isolate of its own); both must be
// set for any of this to apply.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = process.env.EDGEFIT_TEST_DIST || join(root, 'dist');
const compiled = (rel) => pathToFileURL(join(dist, 'src', rel)).href;
const { registerEngine } = await import(compiled('engine/registry.js'));

const chosen = process.env.EDGEFIT_TEST_FAULT_ENGINE;

const trace = (event, at = Date.now()) => { if (process.env.EDGEFIT_TEST_FAULT_TRACE) appendFileSync(process.env.EDGEFIT_TEST_FAULT_TRACE, `${event} ${at}\n`); };

/** @param {'fault-hang' | 'fault-crash' | 'fault-native-hang'} kind */
function faultEngineFactory(kind) {
  const after = Number(process.env.EDGEFIT_TEST_FAULT_AFTER ?? '3');
  return {
    name: kind,
    async load(modelPath, options) {
      trace('load');
      await scriptedLoad();
      const { ortEngineFactory } = await import(compiled('engine/onnxruntime.js'));
      const inner = await ortEngineFactory.load(modelPath, options);
      let runs = 0;
      return {
        name: kind,
        get provider() { return inner.provider; },
        get refused() { return inner.refused; },
        get io() { return inner.io; },
        async run(frame) {
          if (++runs > after) {
            if (kind === 'fault-crash') process.exit(70);
            if (kind === 'fault-native-hang') {
              const ms = Number(process.env.EDGEFIT_TEST_FAULT_NATIVE_MS ?? '2000');
              // written before: a terminated worker runs no JS once the call returns
              trace('native-until', Date.now() + ms);
              execFileSync('sleep', [String(ms / 1000)]);
              return inner.run(frame);
            }
            // a JS busy loop: the worker is stuck the way a hung native call would leave it
            for (;;) { /* hang */ }
          }
          return inner.run(frame);
        },
        close: () => inner.close(),
      };
    },
  };
}

/** What this load does, by EDGEFIT_TEST_FAULT_LOADS; counts it in EDGEFIT_TEST_FAULT_LOAD_COUNT. */
async function scriptedLoad() {
  const script = process.env.EDGEFIT_TEST_FAULT_LOADS;
  const countFile = process.env.EDGEFIT_TEST_FAULT_LOAD_COUNT;
  if (!script || !countFile) return;
  let n = 0;
  try { n = Number(readFileSync(countFile, 'utf8')) || 0; } catch { /* first load */ }
  writeFileSync(countFile, String(n + 1));
  const steps = script.split(',');
  const step = steps[Math.min(n, steps.length - 1)];
  if (step === 'fail') {
    const { EdgefitError } = await import(compiled('util/errors.js'));
    throw new EdgefitError('E_ENGINE_LOAD', `fault engine: load ${n + 1} fails`);
  }
  if (step === 'exit') process.exit(71);
  if (step === 'hang') {
    setInterval(() => undefined, 1_000_000);
    await new Promise(() => undefined);
  }
}

for (const kind of ['fault-hang', 'fault-crash', 'fault-native-hang']) {
  registerEngine(kind, faultEngineFactory(kind), kind === chosen ? 1000 : -1);
}
