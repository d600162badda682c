/**
 * Memory-leak soak: runs `edgefit run` on a fast synthetic camera with the smallest pretrained model until it has
 * produced --frames results, sampling the daemon's RSS (VmRSS of the whole process: main thread, engine worker,
 * onnxruntime arenas) every --every seconds. Reports the samples and the growth after warm-up; exits 1 when the
 * growth exceeds --tolerance-mb. A script, not a test: it takes minutes.
 *
 *   npm run soak -- [--frames 20000] [--fps 240] [--every 5] [--warmup 2000]
 *        [--tolerance-mb 16] [--state-dir DIR] [--mqtt]
 *
 * Without --state-dir the model is pulled from ../shared/data into a temporary state directory. With --mqtt the
 * daemon also runs its embedded broker and outbox (every result is appended and fdatasync'd).
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { pullModels } from '../src/catalog/pull.js';
import { projectRoot, sharedData } from '../src/util/paths.js';

function flag(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
function num(name: string, def: number): number {
  const v = Number(flag(name, String(def)));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
  return v;
}

const frames = num('frames', 20_000);
const fps = num('fps', 240);
const everyS = num('every', 5);
const warmup = num('warmup', 2000);
const toleranceMb = num('tolerance-mb', 16);
const withMqtt = process.argv.includes('--mqtt');
const MODEL = 'mobilenet_v1-0.25-128-int8';

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch { return undefined; }
}

async function main(): Promise<void> {
  let stateDir = flag('state-dir', '');
  if (!stateDir) {
    stateDir = mkdtempSync(join(tmpdir(), 'edgefit-soak-'));
    const { config } = loadConfig({ env: {}, overrides: { stateDir } });
    const report = await pullModels(config, { mirror: sharedData, only: [MODEL] });
    if (!report.ok) throw new Error(`pull failed: ${JSON.stringify(report.items)}`);
  }
  const args = [join(projectRoot, 'bin/edgefit.js'), 'run', '--json', '--camera', 'synthetic', '--state-dir', stateDir,
    '--set', `camera.fps=${fps}`, '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=1000', '--set', 'adapt.enabled=false',
    '--set', 'profile.minRuns=3', '--set', 'profile.minSeconds=0.2', '--set', 'engine.threads=1', ...(withMqtt ? [] : ['--no-mqtt'])];
  const child = spawn(process.execPath, args, { env: { ...process.env, EDGEFIT_CONFIG: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let results = 0;
  let tail = '';
  child.stdout!.on('data', (d: Buffer) => {
    const s = tail + d.toString();
    const lines = s.split('\n');
    tail = lines.pop()!;
    results += lines.length;
  });
  const samples: { results: number; rss: number; s: number }[] = [];
  const t0 = Date.now();
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`the daemon exited (${code}) after ${results} results`)));
    const timer = setInterval(() => {
      const rss = rssMb(child.pid!);
      if (rss !== undefined && results > 0) {
        samples.push({ results, rss, s: (Date.now() - t0) / 1000 });
        process.stderr.write(`soak: ${results} results, rss ${rss.toFixed(1)} MB\n`);
      }
      if (results >= frames) { clearInterval(timer); child.removeAllListeners('exit'); resolve(); }
    }, everyS * 1000);
  });
  child.kill('SIGTERM');
  const after = samples.filter((x) => x.results >= warmup);
  if (after.length < 3) throw new Error('too few samples after warm-up: raise --frames or lower --every');
  const first = after.slice(0, 2).reduce((a, x) => a + x.rss, 0) / 2;
  const last = after.slice(-2).reduce((a, x) => a + x.rss, 0) / 2;
  const growth = last - first;
  const span = after.at(-1)!.results - after[0]!.results;
  const perK = span > 0 ? (growth / span) * 1000 : 0;
  const out = {
    frames: results, seconds: Math.round((Date.now() - t0) / 1000), fps, mqtt: withMqtt, warmupResults: warmup,
    rssAfterWarmupMb: Math.round(first * 10) / 10, rssEndMb: Math.round(last * 10) / 10, growthMb: Math.round(growth * 10) / 10,
    growthMbPer1000Results: Math.round(perK * 1000) / 1000, toleranceMb, pass: growth <= toleranceMb,
    samples: samples.map((x) => [x.results, Math.round(x.rss * 10) / 10]),
  };
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
  if (!out.pass) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
