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
import type { CommandHandlers } from './mqtt/commands.js';
import type { ResultPayload, TelemetryPayload } from './mqtt/payloads.js';
import { CpuMeter, LoopDelay, cpuTemperature } from './telemetry/system.js';
import { Systemd } from './daemon/systemd.js';
import { snapshotJpeg } from './daemon/snapshot.js';
import { readLabels } from './daemon/labels.js';
import type { Budget } from './select/types.js';
import type { Adapter, SwitchEvent } from './select/adapt.js';
import { makeAdapter } from './daemon/adapt.js';
import { bestOf } from './profile/measure.js';

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
 * The composition root: config -> device probe -> catalog ladder -> profiler/selector -> engine -> camera ->
 * pipeline -> MQTT. Services start in that order and stop in reverse; each stage is its own module.
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
  private mqtt: MqttService | undefined;
  private broker: EmbeddedBroker | undefined;
  private filter: ResultFilter;
  private localSeq = 0;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly cpu = new CpuMeter();
  private readonly loop = new LoopDelay();
  private readonly systemd = new Systemd();
  private inflightPublishes = new Set<Promise<unknown>>();
  private switching: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** aborted by stop(): kills a pull-model's child process */
  private readonly stopping = new AbortController();
  /** the pull-model in progress (the dispatcher lets one run at a time) */
  private pulling: Promise<unknown> | undefined;
  private lastTelemetry = { at: Date.now(), inferred: 0 };
  private resultsRefused = 0;
  private adapter: Adapter | undefined;
  private probeFrames: ProbeFrameCollector | undefined;
  brokerUrl: string | undefined;

  constructor(private readonly o: DaemonOptions) {
    const r = o.config.mqtt.results;
    this.filter = new ResultFilter(r.mode, r.threshold, r.maxRatePerSecond);
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

    const model = await this.loadModel(this.choice);
    this.engine = model.engine;
    this.source = await createFrameSource(c.camera.source, {
      width: this.choice.variant.resolution, height: this.choice.variant.resolution, fps: c.camera.fps, watchdogSeconds: c.camera.watchdogSeconds, loop: c.camera.loop, ffmpegPath: c.camera.ffmpegPath,
    });
    this.wireCamera();
    await this.source.start();
    this.log.info('camera', { source: this.source.name });

    if (this.o.mqtt) await this.startMqtt();

    this.pipeline = new Pipeline({ source: this.source, model, topK: 5, scoreThreshold: 0, windowSeconds: Math.max(10, c.mqtt.telemetrySeconds) });
    this.pipeline.on('result', (r: InferenceResult) => this.onResult(r));
    this.pipeline.on('error', (err: Error) => this.log.warn('inference failed for a frame', { error: err.message }));
    this.pipeline.on('stopped', () => { if (!this.stopped && this.source.stats().ended) this.log.info('the camera input ended (camera.loop is off)'); });
    this.pipeline.start();
    this.adapter = makeAdapter(c, this.choice, this.budget);
    // the camera's own frames become the probe frames of later selections (a configured probeDir is the user's)
    if (!c.profile.probeDir) {
      this.probeFrames = new ProbeFrameCollector(probeDirOf(c), this.source, { log: (l) => this.log.info(l) });
      await this.probeFrames.start();
    }

    await this.mqtt?.setModel(modelPayload(c.deviceId, this.device.board.kind, this.choice));
    await this.mqtt?.setStatus('online', this.warning ?? '');
    this.startTimers();
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
    if (choice.provider === 'tensorrt') {
      // onnxruntime-node forwards no TensorRT provider options, but the TensorRT EP also reads these variables
      // (from the process environment, so they are set here on the main thread, before the worker loads)
      process.env.ORT_TENSORRT_ENGINE_CACHE_ENABLE = '1';
      process.env.ORT_TENSORRT_CACHE_PATH = join(this.o.config.stateDir, 'trt-cache');
      process.env.ORT_TENSORRT_FP16_ENABLE = this.o.config.engine.trtFp16 ? '1' : '0';
    }
    // EDGEFIT_TEST_ENGINE: the fault-injection tests pick a test engine (refused unless EDGEFIT_TEST_ALLOW_FAULT_ENGINES=1)
    const testEngine = process.env.EDGEFIT_TEST_ENGINE;
    const engine: SupervisedEngine = await EngineHost.start(v.modelPath, {
      ...(testEngine ? { kind: testEngine } : {}),
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

  private wireCamera(): void {
    this.source.on('error', (err: Error) => this.log.warn('camera', { error: err.message }));
    this.source.on('offline', (why: string) => { this.log.warn('camera offline', { reason: why }); void this.mqtt?.publishEvent({ type: 'camera', message: `offline: ${why}` }); });
    this.source.on('online', () => { this.log.info('camera online'); });
    this.source.on('retry', (ms: number) => this.log.info('camera restart scheduled', { inMs: ms }));
  }

  private async startMqtt(): Promise<void> {
    const c = this.o.config;
    let url = c.mqtt.url;
    if (!url) {
      const { startEmbeddedBroker } = await import('./mqtt/broker.js');
      try {
        this.broker = await startEmbeddedBroker(1883);
      } catch (err) {
        this.log.warn(`${errorMessage(err)}; the embedded broker uses a free port instead`);
        this.broker = await startEmbeddedBroker(0);
      }
      url = this.broker.url;
      this.log.info('embedded MQTT broker (MQTT 3.1.1) listening', { url });
    }
    this.brokerUrl = url;
    const { MqttService } = await import('./mqtt/service.js');
    this.mqtt = new MqttService({
      config: c.mqtt, url, deviceId: c.deviceId, stateDir: c.stateDir, version: this.o.version, board: this.device.board.kind, handlers: this.commandHandlers(),
    });
    this.mqtt.on('error', (err: Error) => this.log.warn('mqtt', { error: err.message }));
    this.mqtt.on('online', (v: number) => this.log.info('mqtt connected', { broker: this.mqtt!.describeBroker(), protocol: v === 5 ? '5.0' : '3.1.1', session: this.mqtt!.session }));
    this.mqtt.on('offline', () => this.log.warn('mqtt disconnected; results go to the durable outbox'));
    this.mqtt.on('waiting', (ms: number, why: string) => this.log.info('mqtt reconnect scheduled', { inMs: ms, reason: why }));
    await this.mqtt.start();
    const u = new URL(url);
    this.say(`edgefit: watch the results with:  mosquitto_sub -h ${u.hostname} -p ${u.port || 1883} -t '${c.mqtt.prefix}/${c.deviceId}/#' -v`);
  }

  private commandHandlers(): CommandHandlers {
    const live = <A, R>(fn: (args: A) => Promise<R>) => async (args: A): Promise<R> => {
      if (this.stopped) throw stoppingError();
      return fn(args);
    };
    return {
      reselect: live(async () => this.reselect('command')),
      'set-budget': live(async (args) => {
        this.budgetOverride = { ...this.budgetOverride, ...args };
        return this.reselect(`budget changed: ${JSON.stringify(args)}`);
      }),
      pause: live(async () => { this.pipeline.pause(); return { paused: true }; }),
      resume: live(async () => { this.pipeline.resume(); return { paused: false }; }),
      'pull-model': live(async (args) => {
        const config = this.o.config;
        if (args.mirror) {
          const [{ checkCommandMirror }, { loadCatalog }] = await Promise.all([import('./catalog/mirror-policy.js'), import('./catalog/catalog.js')]);
          checkCommandMirror(args.mirror, config, loadCatalog(config.models.catalog));
        }
        // downloads and conversion run in a child process, killed past models.pullTimeoutSeconds or at stop():
        // a model file that crashes a converter, or a transfer that hangs, cannot take the daemon down or hold it
        const { pullModelsIsolated } = await import('./catalog/pull-isolated.js');
        const pull = pullModelsIsolated({ ...config, models: { ...config.models, ...(args.mirror ? { mirror: args.mirror } : {}) } }, { ...(args.id ? { only: [args.id] } : {}) }, {
          log: (line) => this.log.info(line), signal: this.stopping.signal,
        });
        this.pulling = pull.catch(() => undefined);
        const report = await pull;
        if (this.stopped) throw stoppingError();
        const changed = report.items.some((i) => i.status === 'downloaded' || i.convert === 'converted');
        let sel: { variant: string; switched: boolean } = { variant: this.choice.variant.id, switched: false };
        if (changed) {
          await this.loadLadder();
          sel = await this.reselect('models pulled');
        }
        // a failed transfer (bad sha256, unreachable mirror, not a model) is an error reply, not ok with a buried status
        if (!report.ok) {
          const why = report.items.filter((i) => i.error || i.convertError).map((i) => `${i.id}: ${i.error ?? i.convertError}`).join('; ');
          throw new EdgefitError('E_PULL', `pull failed: ${why || 'a file is missing'}; running ${sel.variant}${changed ? '' : ' (unchanged)'}`);
        }
        return { pulled: report.items.map((i) => ({ id: i.id, status: i.status })), ...sel };
      }),
      snapshot: live(async (args) => {
        const jpeg = await snapshotJpeg(this.source, args.quality ?? 80);
        await this.mqtt!.publishRaw(this.mqtt!.topics.snapshot, jpeg, true);
        return { topic: this.mqtt!.topics.snapshot, bytes: jpeg.length, width: this.source.stats().width, height: this.source.stats().height };
      }),
    };
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

  private throttledNow = false;

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
    const ev = this.adapter?.observe(r.inferMs, { throttled: this.throttledNow });
    if (ev) void this.adapt(ev);
    if (!this.filter.accept(r.top, Date.now())) return;
    const build = (seq: number, session: number): ResultPayload => ({
      deviceId: this.o.config.deviceId, session, seq, frameTs: r.frameTs, ts: new Date().toISOString(), variant: r.variantId,
      top: r.top.map((t) => ({ index: t.index, label: t.label, score: Math.round(t.score * 10000) / 10000 })),
      latencyMs: Math.round(r.latencyMs * 100) / 100, inferMs: Math.round(r.inferMs * 100) / 100,
    });
    if (!this.mqtt) {
      if (this.o.json) process.stdout.write(JSON.stringify(build(++this.localSeq, 0)) + '\n');
      return;
    }
    let payload: ResultPayload | undefined;
    const p = this.mqtt.publishResult((seq, session) => (payload = build(seq, session))).then(
      () => { if (this.o.json && payload) process.stdout.write(JSON.stringify(payload) + '\n'); },
      (err: unknown) => { this.resultsRefused++; this.log.error('result not accepted', { error: errorMessage(err) }); },
    ).finally(() => this.inflightPublishes.delete(p));
    this.inflightPublishes.add(p);
  }

  private startTimers(): void {
    const period = this.o.config.mqtt.telemetrySeconds * 1000;
    this.telemetryTimer = setInterval(() => { void this.publishTelemetry(); }, period);
    this.telemetryTimer.unref();
    if (this.systemd.watchdogMs > 0) {
      // the watchdog is fed only while frames really flow (or the operator paused), not by a bare timer
      this.watchdogTimer = setInterval(() => {
        const s = this.pipeline.stats();
        const fresh = Date.now() - s.lastResultAt < Math.max(this.systemd.watchdogMs, 5000);
        if (s.paused || fresh) this.systemd.notify('WATCHDOG=1');
      }, Math.max(1000, this.systemd.watchdogMs / 3));
      this.watchdogTimer.unref();
    }
  }

  telemetry(): TelemetryPayload {
    const now = Date.now();
    const ps = this.pipeline.stats();
    const cs = this.source.stats();
    const es = this.engine.stats;
    const windowSeconds = (now - this.lastTelemetry.at) / 1000;
    const fps = windowSeconds > 0 ? Math.round(((ps.inferred - this.lastTelemetry.inferred) / windowSeconds) * 100) / 100 : 0;
    this.lastTelemetry = { at: now, inferred: ps.inferred };
    const lat = this.pipeline.latency.percentiles();
    const inf = this.pipeline.infer.percentiles();
    const ms = this.mqtt?.stats();
    return {
      deviceId: this.o.config.deviceId, session: this.mqtt?.session ?? 0, ts: new Date(now).toISOString(), windowSeconds: Math.round(windowSeconds * 100) / 100,
      variant: this.choice.variant.id, provider: this.choice.provider, paused: ps.paused,
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

  private async publishTelemetry(): Promise<void> {
    const t = this.telemetry();
    t.temperatureC = await cpuTemperature();
    if (this.device.thermal.throttle) t.throttled = Object.entries(this.device.thermal.throttle.now).filter(([, v]) => v).map(([k]) => k);
    this.throttledNow = (t.throttled?.length ?? 0) > 0;
    this.mqtt?.publishTelemetry(t);
    this.log.debug('telemetry', { fps: t.fps, p90: t.latencyMs.p90, dropped: t.frames.dropped, outbox: t.outbox.depth });
  }

  /**
   * Clean shutdown in reverse order: stop taking frames, finish the run in flight, wait for accepted results
   * to reach the outbox, publish `stopped`, disconnect, close the engine and the embedded broker.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.systemd.notify('STOPPING=1');
    if (this.telemetryTimer) clearInterval(this.telemetryTimer);
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    // a pull in progress is killed (its child and the child's own); re-selections still queued refuse to run,
    // so only the switch in progress is waited for
    this.stopping.abort();
    await this.pulling;
    this.probeFrames?.stop();
    await this.switching;
    await this.pipeline?.stop();
    await this.source?.stop();
    await Promise.allSettled([...this.inflightPublishes]);
    await this.mqtt?.stop();
    await this.pipeline?.active.engine.close();
    await this.broker?.close();
    this.loop.stop();
    this.log.info('stopped');
  }

  get board(): string { return boardFingerprint(this.device); }
}

function stoppingError(): EdgefitError {
  return new EdgefitError('stopping', 'the daemon is stopping; send the command again once it is back online');
}
