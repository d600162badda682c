import type { DaemonOptions } from './daemon/options.js';
import { boardFingerprint } from './device/probe.js';
import { probeDirOf } from './select/choose.js';
import type { InferenceResult } from './pipeline/pipeline.js';
import { frameFit } from './camera/fit.js';
import { ResultFilter } from './pipeline/result-filter.js';
import type { TelemetryPayload } from './mqtt/payloads.js';
import { DaemonLifecycle, sayOf } from './daemon/lifecycle.js';
import { ServiceList, type Service } from './daemon/service.js';
import { checkStateDir } from './daemon/state-dir.js';
import { SelectionService } from './daemon/selection-service.js';
import { EngineService } from './daemon/engine-service.js';
import { BrokerService, MqttClientService } from './daemon/mqtt-services.js';
import { ResultSink } from './daemon/result-sink.js';
import { CameraService } from './daemon/camera-service.js';
import { PipelineService } from './daemon/pipeline-service.js';
import { ProbeFrameCollector } from './daemon/probe-frames.js';
import { CommandsService, type Reselection } from './daemon/commands.js';
import { TelemetryService } from './daemon/telemetry.js';
import { WatchdogService } from './daemon/watchdog.js';
import { FleetShareService, readFleetSeed } from './daemon/fleet-measurements.js';
import { FleetRolloutService } from './daemon/fleet-rollout.js';
import { CamerasDaemon } from './daemon/cameras-daemon.js';
import { cameraView, camerasOf } from './config/cameras.js';
import { MetricsService } from './daemon/metrics-service.js';

export type { DaemonOptions };

/**
 * The composition root (the shape of zigbee2mqtt's controller and its extensions): the selection is prepared
 * (device probe -> catalog ladder -> profiler/selector), then a list of services (src/daemon/service.ts) is
 * started in order and stopped in reverse. The list is ordered for the stop: telemetry and the watchdog first,
 * then commands (a pull in progress) -> probe frames -> selection (the switch in progress) -> pipeline -> camera
 * -> results in flight -> MQTT -> engine -> embedded broker.
 */
export class Daemon {
  private readonly selection: SelectionService;
  private readonly engine: EngineService;
  private readonly broker: BrokerService;
  private readonly mqttClient: MqttClientService;
  private readonly results: ResultSink;
  private readonly camera: CameraService;
  private readonly pipeline: PipelineService;
  private readonly commands: CommandsService;
  private readonly telemetryService: TelemetryService;
  private readonly filter: ResultFilter;
  private readonly life: DaemonLifecycle;

  constructor(private readonly o: DaemonOptions) {
    const c = o.config;
    const log = o.log;
    this.life = new DaemonLifecycle(log);
    const stopped = () => this.life.stopped;
    const mqtt = () => this.mqttClient.mqtt;
    const source = () => this.camera.source;
    const pipeline = () => this.pipeline.pipeline;
    this.filter = new ResultFilter(c.mqtt.results.mode, c.mqtt.results.threshold, c.mqtt.results.maxRatePerSecond);
    this.engine = new EngineService({ config: c, log, choice: () => this.selection.choice, mqtt });
    this.selection = new SelectionService({
      config: c, log, signal: this.life.stopping.signal, stopped, engine: this.engine, source, pipeline, mqtt,
      throttled: () => this.telemetryService.throttled,
      fleetSeed: (board) => readFleetSeed(c, board, log),
    });
    this.broker = new BrokerService(log);
    this.commands = new CommandsService({
      config: c, log, signal: this.life.stopping.signal, stopped,
      reselect: (reason, budget) => this.selection.reselect(reason, budget),
      reloadLadder: () => this.selection.loadLadder(), variant: () => this.selection.choice.variant.id,
      pipeline, source, mqtt,
    });
    this.mqttClient = new MqttClientService({
      config: c, log, version: o.version, url: () => c.mqtt.url || this.broker.broker!.url, board: () => this.selection.device.board.kind, task: () => this.selection.choice.variant.task ?? 'classification',
      handlers: this.commands.handlers(), say: sayOf(o),
    });
    this.results = new ResultSink({ deviceId: c.deviceId, json: o.json, log, mqtt });
    this.camera = new CameraService({ config: c, log, resolution: () => this.selection.choice.variant.resolution, fit: () => frameFit(this.selection.choice.variant), mqtt });
    this.pipeline = new PipelineService({
      log, source, model: () => this.engine.current!, windowSeconds: Math.max(10, c.mqtt.telemetrySeconds), minScore: c.mqtt.results.minScore, labels: c.mqtt.results.labels, stopped,
      result: (r) => this.onResult(r),
    });
    // built here, as the CPU and event-loop meters measure from the daemon's start
    this.telemetryService = new TelemetryService({
      deviceId: c.deviceId, periodSeconds: c.mqtt.telemetrySeconds, device: () => this.selection.device, log,
      pipeline, source, engine: () => this.engine.health, choice: () => this.selection.choice, mqtt,
    });
  }

  async start(): Promise<void> {
    const c = this.o.config;
    await checkStateDir(c.stateDir);
    await this.selection.prepare();
    // the camera's own frames become the probe frames of later selections (a configured probeDir is the user's)
    let probeFrames: ProbeFrameCollector | undefined;
    this.life.services = new ServiceList([
      this.o.mqtt && !c.mqtt.url ? this.broker : undefined,
      this.engine,
      this.o.mqtt ? this.mqttClient : undefined,
      this.results,
      this.camera,
      this.pipeline,
      this.selection,
      c.profile.probeDir ? undefined : service('probe-frames', async () => {
        probeFrames = new ProbeFrameCollector(probeDirOf(c), this.camera.source, { log: (l) => this.o.log.info(l) });
        await probeFrames.start();
      }, () => probeFrames?.stop()),
      this.commands,
      service('online', async () => {
        await this.selection.publishModel();
        await this.mqttClient.mqtt?.setStatus('online', this.selection.statusWarning ?? '');
      }),
      this.telemetryService,
      this.o.mqtt && c.fleet.shareMeasurements ? new FleetShareService({ config: c, log: this.o.log, board: () => this.board, mqtt: () => this.mqttClient.mqtt }) : undefined,
      this.o.mqtt && c.fleet.group ? new FleetRolloutService({
        config: c, log: this.o.log, signal: this.life.stopping.signal, stopped: () => this.life.stopped, board: () => this.selection.device.board.kind,
        mqtt: () => this.mqttClient.mqtt, selection: this.selection, reselect: (r) => this.selection.reselect(r), pipeline: () => this.pipeline.pipeline, engine: () => this.engine.health,
      }) : undefined,
      c.metrics.port ? new MetricsService({ port: c.metrics.port, deviceId: c.deviceId, log: this.o.log, telemetry: () => this.telemetryService.lastPublished, selections: () => { const x = this.selection.choice; return [{ variant: x.variant.id, provider: x.provider, threads: x.threads }]; } }) : undefined,
      new WatchdogService(this.life.systemd, () => {
        const cam = this.camera.source.stats();
        return { ...this.pipeline.pipeline.stats(), camerasDown: !cam.online && !cam.ended };
      }),
    ].filter((s): s is Service => s !== undefined));
    await this.life.services.start();
    // stopped while starting (a signal): the stop's own exit is in progress
    if (this.life.stopped) return;

    const choice = this.selection.choice;
    this.life.ready(choice.variant.id);
    this.o.log.info('running', { variant: choice.variant.id, provider: choice.provider, threads: choice.threads, reason: choice.reason });
  }

  private onResult(r: InferenceResult): void {
    this.selection.observe(r.inferMs);
    if (!this.filter.accept(r, Date.now())) return;
    this.results.write(r);
  }

  /** Re-runs selection (measurements come from the cache) and switches model if the choice changed. */
  reselect(reason: string): Promise<Reselection> {
    return this.selection.reselect(reason);
  }

  telemetry(): TelemetryPayload {
    return this.telemetryService.payload();
  }

  get brokerUrl(): string | undefined {
    return this.mqttClient.url;
  }

  /**
   * Clean shutdown: the services in reverse (src/daemon/service.ts): stop taking frames, finish the run in
   * flight, wait for accepted results to reach the outbox, publish `stopped`, disconnect, close the engine and
   * the embedded broker.
   */
  stop(): Promise<void> {
    return this.life.stop();
  }

  get board(): string { return boardFingerprint(this.selection.device); }
}

/** What `edgefit run` drives: the one-camera daemon or the several-camera one. */
export type RunningDaemon = Pick<Daemon, 'start' | 'stop' | 'reselect' | 'telemetry' | 'brokerUrl' | 'board'>;

/**
 * The daemon for a configuration: with two or more `cameras`, the several-camera daemon (joint choice, shared
 * workers, per-camera topics); with one entry in `cameras`, the one-camera daemon on that camera's settings
 * (the one-camera topics, as with `camera`); else the one-camera daemon as configured.
 */
export function createDaemon(o: DaemonOptions): RunningDaemon {
  const c = o.config;
  if (c.cameras.length >= 2) return new CamerasDaemon(o, camerasOf(c));
  if (c.cameras.length === 1) return new Daemon({ ...o, config: cameraView(c, c.cameras[0]!) });
  return new Daemon(o);
}

function service(name: string, start: () => Promise<void>, stop: () => void = () => undefined): Service {
  return { name, start, stop: async () => { stop(); } };
}
