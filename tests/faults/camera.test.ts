import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { DaemonProcess, profiledState, copyState } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Consumer, sleep } from '../helpers/consumer.js';
import { faultArgs } from '../helpers/fault-daemon.js';

/** Children of a process, read from /proc (pid, command name). */
function children(ppid: number): { pid: number; comm: string; state: string }[] {
  const out: { pid: number; comm: string; state: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const [state, pp] = stat.slice(close + 2).split(' ');
      if (Number(pp) === ppid) out.push({ pid: Number(d), comm, state: state! });
    } catch { /* exited meanwhile */ }
  }
  return out;
}

type Tele = { camera: { online: boolean; stalls: number; restarts: number }; frames: { in: number; inferred: number; dropped: number }; rssMb: number; latencyMs: { p99: number } };

describe('camera faults in the running daemon', () => {
  let broker: Mosquitto;
  let state: string;
  beforeAll(async () => {
    state = await profiledState(['mobilenet_v1-0.25-128-int8']);
    broker = await Mosquitto.start();
  }, 120_000);
  afterAll(async () => { await broker?.stop(); });

  it('ffmpeg stalled (SIGSTOP) and ffmpeg killed: offline within the watchdog time, restarted with backoff, counters right in telemetry', async () => {
    const dev = 'fault-cam';
    const c = await Consumer.start(broker.url, dev);
    const d = new DaemonProcess(faultArgs({
      broker: broker.url, deviceId: dev, stateDir: copyState(state), json: false,
      camera: 'lavfi:testsrc2=size=160x120:rate=10', set: ['camera.fps=10', 'camera.watchdogSeconds=1', 'mqtt.results.maxRatePerSecond=100'],
    }));
    try {
      await d.waitFor(() => c.results.size >= 3, 'first results', 120_000);
      const tele = () => c.lastTelemetry() as Tele | undefined;
      const ff = children(d.proc.pid!).filter((p) => p.comm === 'ffmpeg');
      expect(ff).toHaveLength(1);
      const stalled = ff[0]!.pid;

      // stall: the process lives but sends nothing
      process.kill(stalled, 'SIGSTOP');
      const ev = await c.waitFor(() => [...c.events].find((e) => e.includes('"camera"') && e.includes('offline')), 'camera offline event', 15_000);
      expect(ev).toMatch(/no frame for [\d.]+ s \(watchdog 1 s\)/);
      await c.waitFor(() => children(d.proc.pid!).some((p) => p.comm === 'ffmpeg' && p.pid !== stalled), 'a new ffmpeg', 15_000);
      // the stalled one was reaped, not left behind stopped
      await c.waitFor(() => !children(d.proc.pid!).some((p) => p.pid === stalled), 'the stalled ffmpeg gone', 10_000);
      const seqAfterStall = c.maxSeq();
      await c.waitFor(() => c.maxSeq() > seqAfterStall + 2, 'results after the restart', 20_000);
      const t1 = await c.waitFor(() => { const t = tele(); return t && t.camera.online && t.camera.stalls === 1 && t.camera.restarts >= 1 ? t : undefined; }, 'telemetry: online, 1 stall, restarted', 15_000);
      expect(t1.camera.stalls).toBe(1);

      // exit: the process dies
      const second = children(d.proc.pid!).find((p) => p.comm === 'ffmpeg')!.pid;
      const restartsBefore = tele()!.camera.restarts;
      process.kill(second, 'SIGKILL');
      await c.waitFor(() => children(d.proc.pid!).some((p) => p.comm === 'ffmpeg' && p.pid !== second), 'ffmpeg restarted after its exit', 15_000);
      const seqAfterExit = c.maxSeq();
      await c.waitFor(() => c.maxSeq() > seqAfterExit + 2, 'results after the second restart', 20_000);
      const t2 = await c.waitFor(() => { const t = tele(); return t && t.camera.online && t.camera.restarts > restartsBefore ? t : undefined; }, 'telemetry: restarted after the exit', 15_000);
      expect(t2.camera.stalls).toBe(1); // an exit is not a stall
      expect(t2.camera.restarts).toBe(restartsBefore + 1);
      expect((await c.command('pause')).ok).toBe(true);
    } finally {
      await d.stop('SIGKILL');
      await c.close();
    }
  }, 90_000);

  it('camera faster than inference (240 fps synthetic): newest frame kept, drops counted, latency bounded, RSS flat', async () => {
    const dev = 'fault-fast';
    const c = await Consumer.start(broker.url, dev);
    const d = new DaemonProcess(faultArgs({
      broker: broker.url, deviceId: dev, stateDir: copyState(state), json: false, set: ['camera.fps=240', 'mqtt.results.maxRatePerSecond=20'],
    }));
    try {
      await d.waitFor(() => c.telemetry.length >= 3, 'telemetry', 120_000);
      // warm-up: the first seconds allocate the ring, the session arenas and the JIT's code
      await sleep(3000);
      const t0 = c.telemetry.length;
      await c.waitFor(() => c.telemetry.length >= t0 + 10, 'ten more telemetry samples', 30_000);
      const samples = c.telemetry.slice(t0) as unknown as Tele[];
      const first = samples[0]!;
      const last = samples.at(-1)!;
      expect(last.frames.dropped).toBeGreaterThan(first.frames.dropped);
      // every frame is inferred or dropped (at most one is held by the loop)
      expect(Math.abs(last.frames.in - last.frames.inferred - last.frames.dropped)).toBeLessThanOrEqual(2);
      // no queue: a queued backlog at 240 fps in would push the latency up by seconds within this window
      for (const s of samples) expect(s.latencyMs.p99).toBeLessThan(1000);
      // tolerance: 20 MB over ~10 s; a leaked frame (49 KB) per frame in would be ~100 MB
      const rss = samples.map((s) => s.rssMb);
      expect(Math.max(...rss.slice(-3)) - Math.min(...rss.slice(0, 3)), `rss samples: ${rss.join(' ')}`).toBeLessThan(20);
    } finally {
      await d.stop('SIGKILL');
      await c.close();
    }
  }, 90_000);
});
