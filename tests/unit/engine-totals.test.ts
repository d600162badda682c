import { describe, it, expect } from 'vitest';
import { EngineService, type LoadedModel } from '../../src/daemon/engine-service.js';
import { TelemetryService } from '../../src/daemon/telemetry.js';
import { CamerasDaemon } from '../../src/daemon/cameras-daemon.js';
import { loadConfig } from '../../src/config/index.js';
import { camerasOf } from '../../src/config/cameras.js';
import type { SupervisedEngineStats } from '../../src/engine/engine.js';
import type { Logger } from '../../src/util/log.js';

const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
const config = () => loadConfig({ env: {}, overrides: { deviceId: 'cam-1', stateDir: '/nonexistent/edgefit-totals' }, host: { hostname: 't', isRoot: false, home: '/nonexistent' } }).config;
const stats = (s: Partial<SupervisedEngineStats> = {}): SupervisedEngineStats => ({ runs: 0, timeouts: 0, crashes: 0, restarts: 0, degraded: false, ...s });
/** a loaded model as a switch makes it `current`: only its engine host's own counts matter here */
const model = (s: SupervisedEngineStats): LoadedModel => ({ variantId: 'm', resolution: 96, labels: undefined, engine: { stats: s, close: async () => undefined } } as unknown as LoadedModel);

/**
 * Each model switch starts a new engine host, whose own counts start at 0: the daemon's engine figures (telemetry
 * `engine`, /metrics edgefit_engine_restarts_total, a rollout's proving figures) are running totals over every host.
 */
describe('engine counts since the daemon started, across model switches', () => {
  it('one camera: EngineService keeps the counts of the engines a switch replaced, and telemetry publishes the totals', async () => {
    const c = config();
    const engine = new EngineService({ config: c, log, choice: () => { throw new Error('not loaded here'); }, mqtt: () => undefined });
    const first = stats({ runs: 100, timeouts: 1, crashes: 2, restarts: 3 });
    engine.current = model(first);
    expect(engine.health.stats).toEqual(first);
    // a switch: the new host counts from 0, then crashes once (and is restarted)
    const second = stats();
    engine.current = model(second);
    second.runs = 5; second.crashes = 1; second.restarts = 1;
    expect(engine.health.stats).toEqual({ runs: 105, timeouts: 1, crashes: 3, restarts: 4, degraded: false });
    // degraded is the running engine's state, not a count
    second.degraded = true;
    expect(engine.health.stats.degraded).toBe(true);
    // making the same model current again counts nothing twice
    engine.current = engine.current;
    expect(engine.totals).toEqual({ runs: 105, timeouts: 1, crashes: 3, restarts: 4 });

    const telemetry = new TelemetryService({
      deviceId: 'cam-1', periodSeconds: 30, log, device: () => ({ board: { kind: 'generic' } }) as never, mqtt: () => undefined,
      engine: () => engine.health,
      choice: () => ({ variant: { id: 'm' }, provider: 'cpu' }) as never,
      pipeline: () => ({ stats: () => ({ inferred: 0, superseded: 0, paused: false }), latency: { percentiles: () => ({ p50: 0, p90: 0, p99: 0, n: 0 }) }, infer: { percentiles: () => ({ p50: 0, p90: 0, p99: 0, n: 0 }) } }) as never,
      source: () => ({ stats: () => ({ framesIn: 0, dropped: 0, online: true, stalls: 0, restarts: 0 }) }) as never,
    });
    try {
      expect(telemetry.payload().engine).toEqual({ restarts: 4, timeouts: 1, crashes: 3, degraded: true });
    } finally {
      await telemetry.stop();
    }
  });

  it('several cameras: the counts of the shared workers a model change closed stay in the telemetry', async () => {
    const c = config();
    const d = new CamerasDaemon({ config: c, log, version: 'test', json: false, mqtt: false }, camerasOf(c));
    // the daemon's own apply() and telemetry(), over engine hosts of our own (no camera, no model loaded)
    const host = (s: SupervisedEngineStats) => ({ stats: s });
    const running = (hosts: ReturnType<typeof host>[]) => ({ engines: {}, models: [], assignment: [0], workers: { hosts: new Map(hosts.map((h, i) => [`s${i}`, h])), close: async () => undefined } });
    const old = [host(stats({ timeouts: 2, crashes: 1, restarts: 3 })), host(stats({ crashes: 1, restarts: 1 }))];
    const next = host(stats());
    const internals = d as unknown as { parts: unknown[]; running: unknown; joint: unknown; build: () => Promise<unknown>; apply(a: number[], why: string): Promise<void>; telemetry(): { engine: unknown } };
    internals.parts = [];
    internals.joint = { assignment: [0], variant: () => ({ id: 'm' }) };
    internals.running = running(old);
    expect(internals.telemetry().engine).toEqual({ restarts: 4, timeouts: 2, crashes: 2, degraded: false });
    internals.build = async () => running([next]);
    await internals.apply([1], 'test: a model change');
    next.stats.crashes = 1; next.stats.restarts = 1;
    expect(internals.telemetry().engine).toEqual({ restarts: 5, timeouts: 2, crashes: 3, degraded: false });
  });
});
