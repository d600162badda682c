import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DaemonProcess, profiledState, copyState } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Consumer } from '../helpers/consumer.js';
import { faultArgs, faultEnginesModule } from '../helpers/fault-daemon.js';

/**
 * Inference faults inside the running daemon, through the test-only engines of tests/helpers/fault-engines.mjs
 * (engine.modules; EDGEFIT_TEST_FAULT_ENGINE picks the one registered first in priority): a run that
 * hangs (a JS busy loop in the worker) or kills its worker. The host times the run out, replaces the worker,
 * and past its restart budget (5 within 60 s) reports `degraded`; telemetry and commands go on throughout.
 */
type Tele = { engine: { restarts: number; timeouts: number; crashes: number; degraded: boolean } };

describe('inference hang and crash', () => {
  let broker: Mosquitto;
  let state: string;
  beforeAll(async () => {
    state = await profiledState(['mobilenet_v1-0.25-128-int8']);
    broker = await Mosquitto.start();
  }, 120_000);
  afterAll(async () => { await broker?.stop(); });

  const start = (dev: string, kind: string, after: number) => new DaemonProcess(
    faultArgs({ broker: broker.url, deviceId: dev, stateDir: copyState(state), json: false, set: ['camera.fps=8', 'engine.timeoutMs=300', 'mqtt.results.maxRatePerSecond=100', `engine.modules=${faultEnginesModule}`] }),
    { EDGEFIT_TEST_FAULT_ENGINE: kind, EDGEFIT_TEST_FAULT_AFTER: String(after) },
  );

  it('a hung run times out, the worker is replaced, results and telemetry continue', async () => {
    const c = await Consumer.start(broker.url, 'fault-hang');
    // profiling runs in its own child with onnxruntime, so only the daemon's worker hangs, after 6 runs each
    const d = start('fault-hang', 'fault-hang', 6);
    try {
      const tele = () => c.lastTelemetry() as Tele | undefined;
      const t = await c.waitFor(() => { const x = tele(); return x && x.engine.timeouts >= 2 && x.engine.restarts >= 2 ? x : undefined; }, 'two timeouts and two restarts', 120_000);
      expect(t.engine.crashes).toBe(0);
      // between the hangs the replaced workers produce results again
      const seq = c.maxSeq();
      const tn = c.telemetry.length;
      await c.waitFor(() => c.maxSeq() > seq, 'results from a replaced worker', 20_000);
      await c.waitFor(() => c.telemetry.length >= tn + 2, 'telemetry keeps coming', 20_000);
      expect([...c.events].some((e) => /worker restarted: run exceeded 300 ms/.test(e))).toBe(true);
      expect((await c.command('pause')).ok).toBe(true);
    } finally {
      await d.stop('SIGKILL');
      await c.close();
    }
  }, 150_000);

  it('a worker that crashes on every run: restarts up to the budget, then degraded; the daemon stays up and answers', async () => {
    const c = await Consumer.start(broker.url, 'fault-crash');
    const d = start('fault-crash', 'fault-crash', 0);
    try {
      await c.waitFor(() => c.statuses.some((s) => s.state === 'degraded'), 'status degraded', 120_000);
      const tn = c.telemetry.length;
      const t = await c.waitFor(() => c.telemetry.slice(tn).map((x) => x as unknown as Tele).find((x) => x.engine.degraded), 'telemetry after degraded', 20_000);
      expect(t.engine.restarts).toBe(5);
      expect(t.engine.crashes).toBeGreaterThanOrEqual(5);
      expect(c.results.size).toBe(0);
      expect([...c.events].some((e) => e.includes('degraded: 5 engine restarts'))).toBe(true);
      await c.waitFor(() => c.telemetry.length >= tn + 3, 'telemetry still published while degraded', 20_000);
      expect((await c.command('pause')).ok).toBe(true);
      expect(d.proc.exitCode).toBe(null);
    } finally {
      await d.stop('SIGKILL');
      await c.close();
    }
  }, 150_000);
});
