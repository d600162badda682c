import type { Logger } from '../util/log.js';
import type { DeviceInfo } from '../device/types.js';
import type { SupervisedEngineStats } from '../engine/engine.js';
import type { FrameSource } from '../camera/source.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { MqttService } from '../mqtt/service.js';
import type { TelemetryPayload } from '../mqtt/payloads.js';
import type { Choice } from '../select/choose.js';
import { CpuMeter, LoopDelay, cpuTemperature } from '../telemetry/system.js';
import type { Service } from './service.js';
import { ThrottleWatch } from './throttle-watch.js';

/** What telemetry reads; getters, because a model switch replaces the engine and the choice. */
export interface TelemetryInputs {
  deviceId: string;
  periodSeconds: number;
  device(): DeviceInfo;
  log: Logger;
  pipeline(): Pipeline;
  source(): FrameSource;
  /**
   * the engine's counts since the daemon started, over every model it ran (EngineService.engine: a switch starts
   * a new engine host whose own counts start at 0), and whether the running one is degraded
   */
  engine(): { readonly stats: Readonly<SupervisedEngineStats> };
  choice(): Choice;
  mqtt(): MqttService | undefined;
}

/** The periodic `telemetry` payload; it also tells live adaptation whether the board throttles. */
export class TelemetryService implements Service {
  readonly name = 'telemetry';
  private readonly throttle: ThrottleWatch;
  /** the newest payload published (the loopback /metrics exports it: metrics-service.ts) */
  lastPublished: TelemetryPayload | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly cpu = new CpuMeter();
  private readonly loop = new LoopDelay();
  private last = { at: Date.now(), inferred: 0 };

  constructor(private readonly i: TelemetryInputs) {
    this.throttle = new ThrottleWatch(i.device);
  }

  /** the board reported throttling in the last telemetry window */
  get throttled(): boolean { return this.throttle.throttled; }

  async start(): Promise<void> {
    this.timer = setInterval(() => { void this.publish(); }, this.i.periodSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.loop.stop();
  }

  payload(): TelemetryPayload {
    const now = Date.now();
    const pipeline = this.i.pipeline();
    const ps = pipeline.stats();
    const cs = this.i.source().stats();
    const es = this.i.engine().stats;
    const choice = this.i.choice();
    const mqtt = this.i.mqtt();
    const windowSeconds = (now - this.last.at) / 1000;
    const fps = windowSeconds > 0 ? Math.round(((ps.inferred - this.last.inferred) / windowSeconds) * 100) / 100 : 0;
    this.last = { at: now, inferred: ps.inferred };
    const lat = pipeline.latency.percentiles();
    const inf = pipeline.infer.percentiles();
    const ms = mqtt?.stats();
    return {
      deviceId: this.i.deviceId, session: mqtt?.session ?? 0, ts: new Date(now).toISOString(), windowSeconds: Math.round(windowSeconds * 100) / 100,
      variant: choice.variant.id, provider: choice.provider, paused: ps.paused,
      // dropped: superseded in the camera's ring, or in the engine's mailbox before the engine was free
      frames: { in: cs.framesIn, inferred: ps.inferred, dropped: cs.dropped + ps.superseded }, fps,
      latencyMs: { p50: lat.p50, p90: lat.p90, p99: lat.p99 }, inferMs: { p50: inf.p50, p90: inf.p90, p99: inf.p99 },
      cpuPercent: this.cpu.sample(), rssMb: Math.round(process.memoryUsage.rss() / 1048576 * 10) / 10,
      temperatureC: null, throttled: null,
      outbox: { depth: ms?.outbox.depth ?? 0, dropped: ms?.outbox.dropped ?? 0, refused: ms?.refusedAppends ?? 0 }, reconnects: ms?.reconnects ?? 0,
      engine: { restarts: es.restarts, timeouts: es.timeouts, crashes: es.crashes, degraded: es.degraded },
      camera: { online: cs.online, stalls: cs.stalls, restarts: cs.restarts, ...(cs.lastError ? { lastError: cs.lastError } : {}) },
      eventLoopDelayP99Ms: this.loop.p99Ms(),
    };
  }

  private async publish(): Promise<void> {
    const t = this.payload();
    t.temperatureC = await cpuTemperature();
    t.throttled = await this.throttle.sample();
    this.lastPublished = t;
    this.i.mqtt()?.publishTelemetry(t);
    this.i.log.debug('telemetry', { fps: t.fps, p90: t.latencyMs.p90, dropped: t.frames.dropped, outbox: t.outbox.depth });
  }
}
