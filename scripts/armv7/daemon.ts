/**
 * The daemon step of the armv7 job: `bin/edgefit.js run` under qemu-arm as a 32-bit Raspberry Pi OS board, with its
 * default providers (onnxruntime-node is installed but has no linux/arm binary, as after `npm ci` on the Pi), a folder
 * camera of test photos, the imported MobileNet-v1 0.25/128 pulled into its state, and a real mosquitto on the host
 * loopback. Fails unless: the retained `model` payload says tfjs-wasm, every photo's result on the result topic has
 * x64's top-1 (tfjs-wasm, and among onnxruntime's on a tie) with its score, no result is anything else, and SIGTERM
 * stops the daemon with exit code 0. Every wait has a deadline.
 * usage: node dist/scripts/armv7/daemon.js --work DIR --qnode WRAPPER --node-path DIR
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { loadConfig } from '../../src/config/index.js';
import { pullModels } from '../../src/catalog/pull.js';
import { buildLadder } from '../../src/catalog/ladder.js';
import { loadEngine } from '../../src/engine/registry.js';
import { cropResizeRgb, decodeRgb } from '../../src/image/load.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';

const MODEL = 'mobilenet_v1-0.25-128-int8';
/** a BMP (edgefit's own decoder) and JPEGs (sharp's linux-arm libvips), whose x64 top-1 classes all differ */
const PHOTOS = ['cat.bmp', 'parrot.jpg', 'sunflower.bmp'];
const DEVICE = 'armv7-job';
const secs = (name: string, d: number): number => Number(process.env[name] ?? d) * 1000;
/** emulated startup: probe, profiling two candidates, loading the engine (35-65 s measured idle, 115 s with a CPU hog) */
const START_MS = secs('ARMV7_DAEMON_START_S', 420);
const RESULTS_MS = secs('ARMV7_DAEMON_RESULTS_S', 180);
const STOP_MS = secs('ARMV7_DAEMON_STOP_S', 60);
/** scores of the same class on x64 and emulated armv7 (tfjs-wasm both; libvips and XNNPACK differ per CPU) */
const SCORE_TOLERANCE = 0.02;

const arg = (name: string): string => {
  const i = process.argv.indexOf(name);
  if (i < 0 || !process.argv[i + 1]) { console.error('usage: daemon.js --work DIR --qnode WRAPPER --node-path DIR'); process.exit(2); }
  return process.argv[i + 1]!;
};
const work = arg('--work');
const qnode = arg('--qnode');
const nodePath = arg('--node-path');
/** a deadline that does not keep this process alive once everything else is done */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
const say = (m: string): void => console.log(`armv7 daemon: ${m}`);

interface Result { variant: string; top: { index: number; score: number }[] }
interface ModelPayload { provider: string; reason: string; variant: { id: string } }

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function until<T>(what: string, ms: number, get: () => T | undefined, alive?: () => string | undefined): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    const dead = alive?.();
    if (dead) throw new Error(`${dead} while waiting for ${what}`);
    if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startMosquitto(dir: string): Promise<{ proc: ChildProcess; port: number }> {
  const bin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto is not installed: `bash scripts/cross/setup.sh armv7` installs it with apt');
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${port} 127.0.0.1\n${process.getuid?.() === 0 ? 'user root\n' : ''}persistence false\nallow_anonymous true\n`);
  const proc = spawn(bin, ['-c', conf], { stdio: 'ignore' });
  const end = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise<boolean>((res) => { const c = connect(port, '127.0.0.1'); c.once('connect', () => { c.destroy(); res(true); }); c.once('error', () => res(false)); });
    if (ok) return { proc, port };
    if (proc.exitCode !== null) throw new Error(`mosquitto exited with ${proc.exitCode} (${conf})`);
    if (Date.now() > end) throw new Error(`mosquitto does not listen on 127.0.0.1:${port} after 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** x64 top-1 (classes of the top score) and that score, per photo, on tfjs-wasm and on onnxruntime's CPU */
async function x64Reference(state: string, variantId: string, photos: string): Promise<Record<string, { tfjs: number[]; score: number; ort: number[] }>> {
  const { config } = loadConfig({ env: {}, overrides: { stateDir: state }, host: { hostname: 'x64', isRoot: false, home: state } });
  const v = (await buildLadder(config)).find((x) => x.id === variantId);
  if (!v) throw new Error(`the daemon runs ${variantId}, which is not in the x64 ladder of the same state`);
  const out: Record<string, { tfjs: number[]; score: number; ort: number[] }> = {};
  const engines = { tfjs: await loadEngine(v.modelPath, { providers: ['tfjs-wasm'], threads: 1, resolution: v.resolution }), ort: await loadEngine(v.modelPath, { providers: ['cpu'], threads: 1, resolution: v.resolution }) };
  try {
    for (const photo of PHOTOS) {
      const img = await decodeRgb(join(photos, photo));
      const frame = await cropResizeRgb(img.data, img.width, img.height, v.resolution);
      const top = async (e: typeof engines.tfjs) => {
        const s = (await e.run(frame)).scores;
        let max = -Infinity;
        for (const x of s) if (x > max) max = x;
        return { ks: [...s.keys()].filter((k) => s[k] === max), max };
      };
      const t = await top(engines.tfjs);
      out[photo] = { tfjs: t.ks, score: t.max, ort: (await top(engines.ort)).ks };
    }
  } finally {
    await engines.tfjs.close();
    await engines.ort.close();
  }
  return out;
}

const failures: string[] = [];
const state = join(work, 'daemon-state');
const photos = join(work, 'daemon-photos');
await rm(state, { recursive: true, force: true });
await rm(photos, { recursive: true, force: true });
await mkdir(photos, { recursive: true });
for (const p of PHOTOS) await copyFile(join(sharedData, 'images/test', p), join(photos, p));
// the pull imports the TFLite file with edgefit's importer, on the host: the board step is the daemon, not the pull
{
  const { config } = loadConfig({ env: {}, overrides: { stateDir: state }, host: { hostname: 'x64', isRoot: false, home: state } });
  const pulled = await pullModels(config, { mirror: sharedData, only: [MODEL] });
  if (!pulled.ok) throw new Error(`pulling ${MODEL} from ${sharedData} failed: ${JSON.stringify(pulled.items)}`);
}
const broker = await startMosquitto(work);
const url = `mqtt://127.0.0.1:${broker.port}`;
const results: Result[] = [];
let model: ModelPayload | undefined;
const sub = await mqtt.connectAsync(url, { protocolVersion: 5, connectTimeout: 10_000 });
sub.on('message', (t, p) => {
  if (t === `edgefit/${DEVICE}/result`) results.push(JSON.parse(p.toString()) as Result);
  if (t === `edgefit/${DEVICE}/model`) model = JSON.parse(p.toString()) as ModelPayload;
});
await sub.subscribeAsync(`edgefit/${DEVICE}/#`, { qos: 1 });

const args = [
  'bin/edgefit.js', 'run', '--broker', url, '--device-id', DEVICE, '--state-dir', state, '--camera', `folder:${photos}`,
  // the short profile of the tests (tests/helpers/daemon.ts fastProfile); one frame per 2 s: no frame is dropped at
  // ~0.8 s per emulated inference, so each photo gets its result. An emulated inference took 5.5 s on a machine loaded
  // by the test suite beside the job: the per-frame limit (engine.timeoutMs, 5 s by default) would restart the worker
  // on every frame, so it is the latency budget here too
  '--set', 'engine.timeoutMs=60000', '--set', 'profile.minRuns=3', '--set', 'profile.minSeconds=0.2', '--set', 'profile.warmupRuns=1', '--set', 'engine.threads=1',
  '--set', 'budget.latencyMs=60000', '--set', 'camera.fps=0.5', '--set', 'mqtt.results.mode=every',
];
const t0 = Date.now();
const daemon = spawn(qnode, args, {
  cwd: projectRoot,
  // default engine.providers, as a user runs it: onnxruntime's are refused, tfjs-wasm is what remains
  env: { ...process.env, EDGEFIT_CONFIG: '', NODE_PATH: nodePath, ARMV7_QNODE: qnode, NODE_OPTIONS: `--import ${join(projectRoot, 'scripts/armv7/exec-path.mjs')}` },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
daemon.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
const exited = new Promise<number | null>((res) => daemon.on('exit', (code, sig) => res(sig ? -1 : code)));
const dead = (): string | undefined => (daemon.exitCode !== null || daemon.signalCode !== null ? `the emulated daemon exited (${daemon.exitCode ?? daemon.signalCode})` : undefined);
const tail = (): string => log.split('\n').slice(-25).join('\n');
const elapsed = (): string => `${Math.round((Date.now() - t0) / 1000)} s`;

try {
  const m = await until('the retained model payload', START_MS, () => model, dead);
  say(`model payload after ${elapsed()}: ${m.variant.id} on ${m.provider}`);
  if (m.provider !== 'tfjs-wasm') failures.push(`the model payload says provider ${m.provider}, not tfjs-wasm`);
  if (!/cpu configured but not available on this board: using tfjs-wasm/.test(m.reason)) failures.push(`the model payload's reason does not say why onnxruntime's providers were refused: ${m.reason}`);
  if (!/onnxruntime-node ships no linux\/arm binary/.test(log)) failures.push('the log does not say onnxruntime-node has no linux/arm binary');
  // retained: a client that subscribes now still gets it, with the retain flag
  const late = await mqtt.connectAsync(url, { protocolVersion: 5, connectTimeout: 10_000 });
  try {
    const retained = new Promise<{ retain: boolean; body: ModelPayload }>((res) => late.on('message', (_t, p, pk) => res({ retain: pk.retain, body: JSON.parse(p.toString()) as ModelPayload })));
    await late.subscribeAsync(`edgefit/${DEVICE}/model`, { qos: 1 });
    const r = await Promise.race([retained, sleep(10_000).then(() => undefined)]);
    if (!r?.retain) failures.push('the model payload is not retained: a late subscriber got none in 10 s');
    else if (r.body.provider !== 'tfjs-wasm') failures.push(`the retained model payload says ${r.body.provider}`);
  } finally {
    await late.endAsync();
  }

  const ref = await x64Reference(state, m.variant.id, photos);
  const byClass = new Map<number, string>();
  for (const [photo, r] of Object.entries(ref)) {
    if (r.tfjs.length !== 1 || byClass.has(r.tfjs[0]!)) throw new Error(`the job's photos need distinct x64 top-1 classes to tell results apart (${JSON.stringify(ref)}): choose others`);
    byClass.set(r.tfjs[0]!, photo);
  }
  const seen = new Set<string>();
  await until(`a result for each of ${PHOTOS.join(', ')}`, RESULTS_MS, () => {
    for (const r of results) { const p = byClass.get(r.top[0]?.index ?? -1); if (p) seen.add(p); }
    return seen.size === PHOTOS.length ? true : undefined;
  }, dead).catch((err: Error) => { failures.push(`${err.message}: got ${results.length} results, photos seen ${[...seen].join(',') || 'none'}`); });
  for (const [i, r] of results.entries()) {
    const top = r.top[0];
    const photo = byClass.get(top?.index ?? -1);
    if (r.variant !== m.variant.id) failures.push(`result ${i}: variant ${r.variant}, the model payload says ${m.variant.id}`);
    if (!top || !photo) { failures.push(`result ${i}: top-1 ${top?.index}, which is x64's top-1 for none of the photos (${[...byClass.keys()].join(',')})`); continue; }
    const want = ref[photo]!;
    if (Math.abs(top.score - want.score) > SCORE_TOLERANCE) failures.push(`result ${i} (${photo}): top-1 score ${top.score}, x64 tfjs-wasm ${want.score.toFixed(4)}`);
    if (!want.ort.includes(top.index)) failures.push(`result ${i} (${photo}): top-1 ${top.index}, x64 onnxruntime ${want.ort.join('|')}`);
  }
  say(`${results.length} results after ${elapsed()}: ${[...seen].map((p) => `${p} -> ${ref[p]!.tfjs[0]}`).join(', ')}`);
} catch (err) {
  failures.push((err as Error).message);
} finally {
  if (daemon.exitCode === null && daemon.signalCode === null) {
    daemon.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(STOP_MS).then(() => 'hung' as const)]);
    if (code === 'hung') {
      daemon.kill('SIGKILL');
      failures.push(`SIGTERM did not stop the daemon in ${STOP_MS / 1000} s (killed)`);
    } else if (code !== 0) failures.push(`the daemon exited with ${code} on SIGTERM, not 0`);
    else say(`stopped cleanly by SIGTERM (exit 0) after ${elapsed()}`);
  }
  for (const line of log.split('\n')) if (/^\S+ error /.test(line)) failures.push(`the daemon logged an error: ${line.slice(0, 300)}`);
  await sub.endAsync();
  broker.proc.kill('SIGTERM');
  await writeFile(join(work, 'daemon.log'), log);
}
if (failures.length > 0) {
  console.error(`armv7 daemon: FAILED\n  ${failures.join('\n  ')}\nlast lines of its log (${join(work, 'daemon.log')}):\n${tail()}`);
  process.exit(1);
}
say(`ok: started on tfjs-wasm, ${PHOTOS.length} photos with x64's top-1 over MQTT, clean SIGTERM stop`);
