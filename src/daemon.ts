import { mkdir, access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config/types.js';
import type { Logger } from './util/log.js';
import { EdgefitError, errorMessage } from './util/errors.js';
import { writeFileAtomic } from './util/atomic.js';
import { probeDevice, boardFingerprint } from './device/probe.js';
import type { DeviceInfo } from './device/types.js';
import { buildLadder, ladderWarning } from './catalog/ladder.js';
import type { Variant } from './catalog/types.js';
import { budgetFromConfig, chooseModel, probeDirOf, type Choice } from './select/choose.js';
import { modelPayload } from './daemon/model-payload.js';
import { ProbeFrameCollector } from './daemon/probe-frames.js';
import { EngineHost } from './engine/host.js';
import type { SupervisedEngine } from './engine/engine.js';
import { probeProvidersIsolated } from './device/providers-isolated.js';
import { createFrameSource } from './camera/registry.js';
import type { FrameSource } from './camera/source.js';
import { Pipeline, type ActiveModel, type InferenceResult } from './pipeline/pipeline.js';
import { ResultFilter } from './pipeline/result-filter.js';
// MQTT (mqtt.js, and aedes for the embedded broker) is imported when it is started: `--no-mqtt` and a daemon
// with an external broker do not carry the modules they never run (mqtt.js alone is ~16 MB of RSS)
import type { MqttService } from './mqtt/service.js';
import type { EmbeddedBroker } from './mqtt/broker.js';
import type { TelemetryPayload } from './mqtt/payloads.js';
import { Systemd } from './daemon/systemd.js';
import { readLabels } from './daemon/labels.js';
import type { Budget } from './select/types.js';
import type { Adapter, SwitchEvent } from './select/adapt.js';
import { makeAdapter } from './daemon/adapt.js';
import { bestOf } from './profile/measure.js';
import { ServiceList, type Service } from './daemon/service.js';
import { WatchdogService } from './daemon/watchdog.js';
import { TelemetryService } from './daemon/telemetry.js';
import { ResultSink } from './daemon/result-sink.js';
import { CommandsService, stoppingError } from './daemon/commands.js';
import { setTensorrtEnvironment } from './daemon/tensorrt-env.js';

export interface DaemonOptions {
  config: Config;
  log: Logger;
  version: string;
  /** print each result as a JSON line on stdout */
  json: boolean;
  /** false: local output only, no broker */
  mqtt: boolean;
  /** print a line to the user (how to watch the topics); stderr by default */
  say?: (line: string) => void;
}

/**
 * The composition root: config -> device probe -> catalog ladder -> profiler/selector, then a list of services
 * started in order and stopped in reverse (src/daemon/service.ts). The list is ordered for the stop: commands
 * (a pull in progress) -> probe frames -> selection (the switch in progress) -> pipeline -> camera -> results
 * in flight -> MQTT -> engine -> embedded broker; telemetry and the watchdog are stopped first.
 */
export class Daemon {
  private device!: DeviceInfo;
  private ladder: Variant[] = [];
  private warning: string | undefined;
  private budget!: Budget;
  private budgetOverride: Partial<Config['budget']> = {};
  private choice!: Choice;
  private source!: FrameSource;
  private pipeline!: Pipeline;
  /** the engine the pipeline runs, as its supervisor: statistics and events without a cast */
  private engine!: SupervisedEngine;
  private firstModel: (ActiveModel & { engine: SupervisedEngine }) | undefined;
  private mqtt: MqttService | undefined;
  private broker: EmbeddedBroker | undefined;
  private readonly filter: ResultFilter;
  private readonly systemd = new Systemd();
  private switching: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** aborted by stop(): kills a pull-model's child process and a re-selection's measurement */
  private readonly stopping = new AbortController();
  private adapter: Adapter | undefined;
  private probeFrames: ProbeFrameCollector | undefined;
  private readonly results: ResultSink;
  private readonly commands: CommandsService;
  private readonly telemetryService: TelemetryService;
  private services: ServiceList | undefined;
  brokerUrl: string | undefined;

  constructor(private readonly o: DaemonOptions) {
    const c = o.config;
    this.filter = new ResultFilter(c.mqtt.results.mode, c.mqtt.results.threshold, c.mqtt.results.maxRatePerSecond);
    this.results = new ResultSink({ deviceId: c.deviceId, json: o.json, log: o.log, mqtt: () => this.mqtt });
    this.commands = new CommandsService({
      config: c, log: o.log, signal: this.stopping.signal, stopped: () => this.stopped,
      reselect: (reason, budget) => {
        if (budget) this.budgetOverride = { ...this.budgetOverride, ...budget };
        return this.reselect(reason);
      },
      reloadLadder: () => this.loadLadder(), variant: () => this.choice.variant.id,
      pipeline: () => this.pipeline, source: () => this.source, mqtt: () => this.mqtt,
    });
    // built here, as the CPU and event-loop meters measure from the daemon's start
    this.telemetryService = new TelemetryService({
      deviceId: c.deviceId, periodSeconds: c.mqtt.telemetrySeconds, device: () => this.device, log: o.log,
      pipeline: () => this.pipeline, source: () => this.source, engine: () => this.engine, choice: () => this.choice, mqtt: () => this.mqtt,
    });
  }

  private get log(): Logger { return this.o.log; }
  private say(line: string): void { (this.o.say ?? ((l: string) => process.stderr.write(l + '\n')))(line); }

  async start(): Promise<void> {
    const c = this.o.config;
    await this.checkStateDir();

    this.log.info('probing the device');
    // providers are proven in a child process (on the binding the engine will use): the probe sessions' native
    // memory stays out of the daemon, and a GPU library that crashes cannot take it down
    const [device, providers] = await Promise.all([probeDevice({ ort: null }), probeProvidersIsolated(c.engine.ortLibraryPath || undefined)]);
    this.device = { ...device, providers };
    if (providers.usable.length === 0) this.log.warn('no execution provider was proven; trying cpu', { error: providers.error ?? 'none' });
    this.log.info('device', { board: this.device.board.kind, cpu: this.device.cpu.model, cores: this.device.cpu.cores, memoryMb: this.device.memory.effectiveMb, providers: this.device.providers.usable.join(',') });

    await this.loadLadder();
    this.budget = budgetFromConfig(c, this.device, this.budgetOverride);
    this.choice = await this.select();

    this.services = new ServiceList([
      this.o.mqtt && !c.mqtt.url ? service('broker', () => this.startBroker(), () => this.broker?.close()) : undefined,
      service('engine', async () => { this.firstModel = await this.loadModel(this.choice); this.engine = this.firstModel.engine; }, () => this.engine?.close()),
      this.o.mqtt ? service('mqtt', () => this.startMqtt(), () => this.mqtt?.stop()) : undefined,
      this.results,
      service('camera', () => this.startCamera(), () => this.source?.stop()),
      service('pipeline', async () => this.startPipeline(), () => this.pipeline?.stop()),
      // selection, live adaptation and switching: a stop waits for the switch in progress
      service('selection', async () => { this.adapter = makeAdapter(c, this.choice, this.budget); }, () => this.switching),
      // the camera's own frames become the probe frames of later selections (a configured probeDir is the user's)
      c.profile.probeDir ? undefined : service('probe-frames', async () => {
        this.probeFrames = new ProbeFrameCollector(probeDirOf(c), this.source, { log: (l) => this.log.info(l) });
        await this.probeFrames.start();
      }, async () => this.probeFrames?.stop()),
      this.commands,
      service('online', async () => {
        await this.mqtt?.setModel(modelPayload(c.deviceId, this.device.board.kind, this.choice));
        await this.mqtt?.setStatus('online', this.warning ?? '');
      }, async () => undefined),
      this.telemetryService,
      new WatchdogService(this.systemd, () => this.pipeline.stats()),
    ].filter((s): s is Service => s !== undefined));
    await this.services.start();
    // stopped while starting (a signal): the stop's own exit is in progress
    if (this.stopped) return;

    this.systemd.notify('READY=1', `STATUS=running ${this.choice.variant.id}`);
    // PM2 with wait_ready: started only once the model runs (deploy/ecosystem: wait_ready, listen_timeout)
    if (process.send) process.send('ready');
    this.log.info('running', { variant: this.choice.variant.id, provider: this.choice.provider, threads: this.choice.threads, reason: this.choice.reason });
  }

  private async checkStateDir(): Promise<void> {
    const dir = this.o.config.stateDir;
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      await writeFileAtomic(join(dir, '.write-test'), 'ok');
    } catch (err) {
      throw new EdgefitError('E_STATE_DIR', `the state directory ${dir} is not writable (${errorMessage(err)}); set stateDir / EDGEFIT_STATE_DIR to a writable place with free space`, { cause: err });
    }
  }

  private async loadLadder(): Promise<void> {
    this.ladder = await buildLadder(this.o.config, { log: (l) => this.log.warn(l), alarm: (l) => this.log.error(l) });
    this.warning = ladderWarning(this.ladder);
    if (this.warning) {
      this.log.warn('*'.repeat(78));
      this.log.warn(this.warning);
      this.log.warn('*'.repeat(78));
    }
    if (this.ladder.length === 0) throw new EdgefitError('E_NO_MODEL', this.warning ?? 'no model is available');
    this.log.info('model ladder', { variants: this.ladder.length, pretrained: this.ladder.filter((v) => v.pretrained).length });
  }

  /** `stoppable`: a stop() ends the selection at once, killing the measurement in progress (a re-selection by command) */
  private async select(stoppable = false): Promise<Choice> {
    this.log.info('profiling and selecting (cached measurements are reused)');
    const choice = await chooseModel(this.o.config, this.device, this.ladder, this.budget, (p) => {
      if (p.agreement) this.log.info('agreement with the native model', { candidate: p.candidate, cached: p.cached, ...(p.agreement.ok ? { agreeing: p.agreement.agreeing, frames: p.agreement.frames } : { error: p.agreement.error ?? 'failed' }) });
      if (!p.measurement && !p.agreement) return;
      if (p.measurement) this.log.info('measured', { candidate: p.candidate, threads: p.threads, cached: p.cached, ok: p.measurement.ok, p90Ms: Math.round(p.measurement.latencyMs.p90 * 100) / 100 });
      // newly pulled models are profiled here, for minutes: a stop waits for one measurement, not for all
      if (stoppable && this.stopped) throw stoppingError();
    }, stoppable ? this.stopping.signal : undefined);
    if (choice.overBudget) this.log.warn(choice.reason);
    return choice;
  }

  private async loadModel(choice: Choice): Promise<ActiveModel & { engine: SupervisedEngine }> {
    const v = choice.variant;
    if (choice.provider === 'tensorrt') setTensorrtEnvironment(this.o.config);
    const engine: SupervisedEngine = await EngineHost.start(v.modelPath, {
      engineModules: this.o.config.engine.modules,
      providers: [choice.provider], threads: choice.threads, timeoutMs: this.o.config.engine.timeoutMs, resolution: v.resolution,
      trtCacheDir: join(this.o.config.stateDir, 'trt-cache'),
      trtFp16: this.o.config.engine.trtFp16,
      optimizedCacheDir: join(this.o.config.stateDir, 'ort-optimized'),
      ...(this.o.config.engine.ortLibraryPath ? { ortLibraryPath: this.o.config.engine.ortLibraryPath } : {}),
    });
    engine.on('restart', (why: string) => { this.log.warn('inference worker restarted', { reason: why }); void this.mqtt?.publishEvent({ type: 'engine', message: `worker restarted: ${why}` }); });
    engine.on('degraded', (why: string) => { this.log.error('inference degraded', { reason: why }); void this.mqtt?.setStatus('degraded'); void this.mqtt?.publishEvent({ type: 'engine', message: `degraded: ${why}` }); });
    engine.on('crash', (why: string) => this.log.warn('inference worker crashed', { reason: why }));
    return { engine, variantId: v.id, resolution: v.resolution, labels: await readLabels(v.labelsPath) };
  }

  private async startCamera(): Promise<void> {
    const c = this.o.config;
    this.source = await createFrameSource(c.camera.source, {
      width: this.choice.variant.resolution, height: this.choice.variant.resolution, fps: c.camera.fps, watchdogSeconds: c.camera.watchdogSeconds, loop: c.camera.loop, ffmpegPath: c.camera.ffmpegPath,
    });
    this.source.on('error', (err: Error) => this.log.warn('camera', { error: err.message }));
    this.source.on('offline', (why: string) => { this.log.warn('camera offline', { reason: why }); void this.mqtt?.publishEvent({ type: 'camera', message: `offline: ${why}` }); });
    this.source.on('online', () => { this.log.info('camera online'); });
    this.source.on('retry', (ms: number) => this.log.info('camera restart scheduled', { inMs: ms }));
    await this.source.start();
    this.log.info('camera', { source: this.source.name });
  }

  private startPipeline(): void {
    const c = this.o.config;
    this.pipeline = new Pipeline({ source: this.source, model: this.firstModel!, topK: 5, scoreThreshold: 0, windowSeconds: Math.max(10, c.mqtt.telemetrySeconds) });
    this.pipeline.on('result', (r: InferenceResult) => this.onResult(r));
    this.pipeline.on('error', (err: Error) => this.log.warn('inference failed for a frame', { error: err.message }));
    this.pipeline.on('stopped', () => { if (!this.stopped && this.source.stats().ended) this.log.info('the camera input ended (camera.loop is off)'); });
    this.pipeline.start();
  }

  private async startBroker(): Promise<void> {
    const { startEmbeddedBroker } = await import('./mqtt/broker.js');
    try {
      this.broker = await startEmbeddedBroker(1883);
    } catch (err) {
      this.log.warn(`${errorMessage(err)}; the embedded broker uses a free port instead`);
      this.broker = await startEmbeddedBroker(0);
    }
    this.log.info('embedded MQTT broker (MQTT 3.1.1) listening', { url: this.broker.url });
  }

  private async startMqtt(): Promise<void> {
    const c = this.o.config;
    const url = c.mqtt.url || this.broker!.url;
    this.brokerUrl = url;
    const { MqttService } = await import('./mqtt/service.js');
    this.mqtt = new MqttService({
      config: c.mqtt, url, deviceId: c.deviceId, stateDir: c.stateDir, version: this.o.version, board: this.device.board.kind, handlers: this.commands.handlers(),
    });
    this.mqtt.on('error', (err: Error) => this.log.warn('mqtt', { error: err.message }));
    this.mqtt.on('online', (v: number) => this.log.info('mqtt connected', { broker: this.mqtt!.describeBroker(), protocol: v === 5 ? '5.0' : '3.1.1', session: this.mqtt!.session }));
    this.mqtt.on('offline', () => this.log.warn('mqtt disconnected; results go to the durable outbox'));
    this.mqtt.on('waiting', (ms: number, why: string) => this.log.info('mqtt reconnect scheduled', { inMs: ms, reason: why }));
    await this.mqtt.start();
    const u = new URL(url);
    this.say(`edgefit: watch the results with:  mosquitto_sub -h ${u.hostname} -p ${u.port || 1883} -t '${c.mqtt.prefix}/${c.deviceId}/#' -v`);
  }

  /** Re-runs selection (measurements come from the cache) and switches model if the choice changed. */
  async reselect(reason: string): Promise<{ variant: string; switched: boolean }> {
    const run = this.switching.then(async () => {
      // queued before a stop: nothing is loaded any more
      if (this.stopped) throw stoppingError();
      this.budget = budgetFromConfig(this.o.config, this.device, this.budgetOverride);
      const choice = await this.select(true);
      const same = choice.variant.id === this.choice.variant.id && choice.provider === this.choice.provider && choice.threads === this.choice.threads;
      if (!same) await this.switchTo(choice, reason);
      else this.choice = choice;
      this.adapter = makeAdapter(this.o.config, this.choice, this.budget);
      await this.mqtt?.setModel(modelPayload(this.o.config.deviceId, this.device.board.kind, this.choice));
      return { variant: this.choice.variant.id, switched: !same };
    });
    this.switching = run.catch(() => undefined);
    return run;
  }

  /** Live re-selection: the adapter saw the live latency leave the budget (or room to grow) for long enough. */
  private adapt(ev: SwitchEvent): Promise<unknown> {
    const target = this.choice.candidates.find((c) => c.id === ev.to);
    if (!target) return Promise.resolve();
    const p = this.budget.percentile ?? 'p90';
    const best = bestOf(target.measurements, p);
    const reason = `${ev.reason === 'over-budget' ? 'step down' : 'step up'}: ${ev.detail}`;
    const next = { ...this.choice, variant: target.variant, provider: target.provider, threads: best?.threads ?? this.choice.threads, reason, overBudget: false };
    const run = this.switching.then(async () => {
      if (this.stopped) return;
      try {
        await this.switchTo(next, reason);
        await this.mqtt?.setModel(modelPayload(this.o.config.deviceId, this.device.board.kind, this.choice));
      } catch (err) {
        this.log.error('live re-selection failed; the previous model keeps running', { error: errorMessage(err) });
      }
    });
    this.switching = run;
    return run;
  }

  /** Loads the new model before the old one is released; the camera changes resolution in place. */
  private async switchTo(choice: Choice, reason: string): Promise<void> {
    const from = this.choice.variant.id;
    const model = await this.loadModel(choice);
    if (choice.variant.resolution !== this.choice.variant.resolution) {
      await this.source.reconfigure({ width: choice.variant.resolution, height: choice.variant.resolution });
    }
    const old = await this.pipeline.swap(model);
    this.choice = choice;
    this.engine = model.engine;
    await old.engine.close();
    this.log.info('switched model', { from, to: choice.variant.id, reason });
    await this.mqtt?.publishEvent({ type: 'switch', message: reason, from, to: choice.variant.id });
    if (this.mqtt) await this.mqtt.setStatus('online');
  }

  private onResult(r: InferenceResult): void {
    const ev = this.adapter?.observe(r.inferMs, { throttled: this.telemetryService.throttled });
    if (ev) void this.adapt(ev);
    if (!this.filter.accept(r.top, Date.now())) return;
    this.results.write(r);
  }

  telemetry(): TelemetryPayload {
    return this.telemetryService.payload();
  }

  /**
   * Clean shutdown: the services in reverse (src/daemon/service.ts): stop taking frames, finish the run in
   * flight, wait for accepted results to reach the outbox, publish `stopped`, disconnect, close the engine and
   * the embedded broker.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.systemd.notify('STOPPING=1');
    // a pull in progress is killed (its child and the child's own), and so is a re-selection's measurement;
    // re-selections still queued refuse to run, so only the switch in progress is waited for
    this.stopping.abort();
    await this.services?.stop();
    this.log.info('stopped');
  }

  get board(): string { return boardFingerprint(this.device); }
}

function service(name: string, start: () => Promise<void>, stop: () => Promise<unknown> | undefined): Service {
  return { name, start, stop: async () => { await stop(); } };
}
