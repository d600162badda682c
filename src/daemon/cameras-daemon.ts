import type { ResolvedCamera } from '../config/cameras.js';
import type { Logger } from '../util/log.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { boardFingerprint } from '../device/probe.js';
import { frameFit } from '../camera/fit.js';
import type { FrameSource } from '../camera/source.js';
import { SharedWorkers, type SharedSession } from '../engine/shared-workers.js';
import type { EngineHost } from '../engine/host.js';
import type { ActiveModel, InferenceResult, Pipeline } from '../pipeline/pipeline.js';
import { ResultFilter } from '../pipeline/result-filter.js';
import type { CameraModel, CameraTelemetry, FleetUsePayload, ModelPayload, TelemetryPayload } from '../mqtt/payloads.js';
import { sessionKey, type Assignment } from '../select/joint.js';
import { accuracyOf } from '../select/accuracy.js';
import { CpuMeter, LoopDelay, cpuTemperature } from '../telemetry/system.js';
import { DaemonLifecycle, sayOf } from './lifecycle.js';
import { ServiceList, type Service } from './service.js';
import { checkStateDir } from './state-dir.js';
import { BrokerService, MqttClientService } from './mqtt-services.js';
import { ResultSink } from './result-sink.js';
import { CameraService } from './camera-service.js';
import { PipelineService } from './pipeline-service.js';
import { CommandsService, stoppingError, type Reselection } from './commands.js';
import { WatchdogService } from './watchdog.js';
import { JointSelection } from './joint-selection.js';
import { SharedEngines } from './shared-engine.js';
import { readLabels } from './labels.js';
import { modelPayload } from './model-payload.js';
import { FleetShareService, readFleetSeed } from './fleet-measurements.js';
import { ThrottleWatch } from './throttle-watch.js';
import { MetricsService } from './metrics-service.js';
import { EngineTotalsKeeper } from './engine-service.js';
import { runtimeOf } from '../profile/runtime.js';
import type { DaemonOptions } from './options.js';


/** One camera's parts: its source, its pipeline over the shared workers, its results filter and sink. */
interface CameraParts {
  cam: ResolvedCamera;
  camera: CameraService;
  pipeline: PipelineService;
  filter: ResultFilter;
  results: ResultSink;
  model: ActiveModel | undefined;
  online: boolean;
  last: { at: number; inferred: number; dropped: number };
}

/** The models of one assignment running on one set of shared workers. */
interface Running { engines: SharedEngines; workers: SharedWorkers; models: ActiveModel[]; assignment: Assignment }

const round2 = (x: number) => Math.round(x * 100) / 100;
const taskOf = (v: { detection?: unknown }): 'classification' | 'detection' => (v.detection ? 'detection' : 'classification');

/**
 * The daemon with several cameras (docs/cameras.md): the joint choice at the start (JointSelection), one engine
 * host per session shared by the cameras through the fair queue (SharedWorkers), and per camera its own source,
 * pipeline, results filter and topic. A camera whose source fails restarts on its own watchdog while the others
 * run; offline, its share is freed and the others may step up after the cool-down; back online, the set is
 * solved again; a throttling board steps down the cheapest loss. Model changes rebuild the shared workers for
 * the new set and swap every pipeline between frames, as a one-camera switch does.
 */
export class CamerasDaemon {
  private readonly joint: JointSelection;
  private readonly broker: BrokerService;
  private readonly mqttClient: MqttClientService;
  private readonly commands: CommandsService;
  private readonly parts: CameraParts[];
  private running: Running | undefined;
  private readonly life: DaemonLifecycle;
  private switching: Promise<unknown> = Promise.resolve();
  private lastSwitch = 0;
  /** a step-down waits in the switching chain (one at a time) */
  private stepQueued = false;
  private replan: NodeJS.Timeout | undefined;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private adaptTimer: NodeJS.Timeout | undefined;
  private readonly cpu = new CpuMeter();
  private readonly loop = new LoopDelay();
  private lastTelemetry = Date.now();
  private readonly throttle = new ThrottleWatch(() => this.joint.device);
  private throttled = false;
  /** a camera was over its budget at the last live check */
  private late = false;
  /** the newest telemetry published (the loopback /metrics exports it) */
  private lastPublished: TelemetryPayload | undefined;
  /** the engine counts of the workers closed by model changes: telemetry counts since the daemon started */
  private readonly engineTotals = new EngineTotalsKeeper();

  constructor(private readonly o: DaemonOptions, cameras: ResolvedCamera[]) {
    const c = o.config;
    const log = o.log;
    this.life = new DaemonLifecycle(log);
    const mqtt = () => this.mqttClient.mqtt;
    this.joint = new JointSelection({ config: c, cameras, log, signal: this.life.stopping.signal, stopped: () => this.life.stopped, fleetSeed: (board) => readFleetSeed(c, board, log) });
    this.broker = new BrokerService(log);
    this.parts = cameras.map((cam, ci) => {
      const v = cam.config;
      const part: CameraParts = {
        cam, online: true, model: undefined, last: { at: Date.now(), inferred: 0, dropped: 0 },
        filter: new ResultFilter(v.mqtt.results.mode, v.mqtt.results.threshold, v.mqtt.results.maxRatePerSecond),
        results: new ResultSink({ deviceId: c.deviceId, json: o.json, log, mqtt, camera: cam.id }),
        camera: new CameraService({ config: v, log, name: cam.id, resolution: () => this.joint.variant(ci).resolution, fit: () => frameFit(this.joint.variant(ci)), mqtt }),
        pipeline: undefined as unknown as PipelineService,
      };
      part.pipeline = new PipelineService({
        log, source: () => part.camera.source, model: () => part.model!, windowSeconds: Math.max(10, c.mqtt.telemetrySeconds),
        minScore: v.mqtt.results.minScore, labels: v.mqtt.results.labels, stopped: () => this.life.stopped,
        result: (r) => this.onResult(part, r),
      });
      return part;
    });
    const all = { pause: () => { for (const p of this.parts) p.pipeline.pipeline.pause(); }, resume: () => { for (const p of this.parts) p.pipeline.pipeline.resume(); } };
    this.commands = new CommandsService({
      config: c, log, signal: this.life.stopping.signal, stopped: () => this.life.stopped,
      reselect: (reason, budget) => {
        if (budget) return Promise.reject(new EdgefitError('E_OPTIONS', 'set-budget applies to one camera; with several cameras, set each camera\'s budget in the cameras setting and restart'));
        return this.resolve(`command: ${reason}`);
      },
      reloadLadder: () => Promise.reject(new EdgefitError('E_OPTIONS', 'with several cameras, restart the daemon to use pulled models (the joint choice is made at the start)')),
      variant: () => this.variants(),
      pipeline: () => all as unknown as Pipeline,
      source: () => this.parts[0]!.camera.source,
      mqtt,
      snapshotOf: (id) => {
        const part = id === undefined ? this.parts[0]! : this.parts.find((p) => p.cam.id === id);
        if (!part) throw new EdgefitError('E_UNKNOWN_CAMERA', `no camera "${id}" here; the cameras are ${this.parts.map((p) => p.cam.id).join(', ')}`);
        return { source: part.camera.source, topic: mqtt()!.topics.cameraSnapshot(part.cam.id) };
      },
    });
    this.mqttClient = new MqttClientService({
      config: c, log, version: o.version, url: () => c.mqtt.url || this.broker.broker!.url, board: () => this.joint.device.board.kind,
      task: () => taskOf(this.joint.variant(0)),
      cameras: () => this.parts.map((p, ci) => ({ id: p.cam.id, task: taskOf(this.joint.variant(ci)) })),
      handlers: this.commands.handlers(), say: sayOf(o),
    });
  }

  async start(): Promise<void> {
    const c = this.o.config;
    await checkStateDir(c.stateDir);
    // a rollout switches one model with the single-camera selection; the joint choice is made at the start only
    if (c.fleet.group) this.o.log.warn('fleet.group is ignored with several cameras: this device does not join the rollout group (docs/fleet.md)', { group: c.fleet.group });
    await this.joint.prepare();
    const engine: Service = {
      name: 'shared-engines',
      start: async () => { this.running = await this.build(this.joint.assignment); this.parts.forEach((p, ci) => { p.model = this.running!.models[ci]; }); },
      stop: async () => { await this.running?.workers.close(); },
    };
    const cameraServices = this.parts.flatMap((p) => [p.results, this.guardedCamera(p)]);
    this.life.services = new ServiceList([
      this.o.mqtt && !c.mqtt.url ? this.broker : undefined,
      engine,
      this.o.mqtt ? this.mqttClient : undefined,
      ...cameraServices,
      ...this.parts.map((p) => p.pipeline),
      { name: 'joint', start: async () => undefined, stop: async () => { if (this.replan) clearTimeout(this.replan); await this.switching; } },
      this.commands,
      this.o.mqtt && c.fleet.shareMeasurements ? new FleetShareService({ config: c, log: this.o.log, board: () => boardFingerprint(this.joint.device), mqtt: () => this.mqttClient.mqtt }) : undefined,
      {
        name: 'online', start: async () => {
          await this.publishModel();
          await this.mqttClient.mqtt?.setStatus('online', this.joint.warning ?? '');
        }, stop: async () => undefined,
      },
      { name: 'telemetry', start: async () => this.startTelemetry(), stop: async () => { if (this.telemetryTimer) clearInterval(this.telemetryTimer); if (this.adaptTimer) clearInterval(this.adaptTimer); this.loop.stop(); } },
      c.metrics.port ? new MetricsService({
        port: c.metrics.port, deviceId: c.deviceId, log: this.o.log, telemetry: () => this.lastPublished,
        selections: () => this.parts.map((p, ci) => ({ camera: p.cam.id, variant: this.joint.variant(ci).id, provider: 'cpu', threads: this.joint.option(ci).threads })),
      }) : undefined,
      new WatchdogService(this.life.systemd, () => {
        const s = this.parts.map((p) => p.pipeline.pipeline.stats());
        const cams = this.parts.map((p) => p.camera.source.stats());
        return { paused: s.every((x) => x.paused), lastResultAt: Math.max(...s.map((x) => x.lastResultAt)), camerasDown: cams.every((x) => !x.online && !x.ended) };
      }),
    ].filter((s): s is Service => s !== undefined));
    await this.life.services.start();
    if (this.life.stopped) return;
    this.life.ready(this.variants());
    this.o.log.info('running', { cameras: this.parts.map((p, ci) => `${p.cam.id}=${this.joint.option(ci).id}`).join(' ') });
  }

  /** A camera's source: its offline/online events drive the joint choice; the others run whatever it does. */
  private guardedCamera(p: CameraParts): Service {
    let never: NodeJS.Timeout | undefined;
    return {
      name: `camera ${p.cam.id}`,
      start: async () => {
        await p.camera.start();
        const src = p.camera.source;
        src.on('offline', () => this.setOnline(p, false));
        src.on('online', () => this.setOnline(p, true));
        // a source goes offline only once it was online: a camera that never delivers its first frame (a wrong
        // address, a dead stream server at boot) would hold its share for ever. Three watchdog periods without a
        // first frame (the source restarts its capture at each) count as offline; its first frame brings it back
        // through the 'online' event
        never = setTimeout(() => { if (!src.stats().online) this.setOnline(p, false); }, 3 * p.cam.config.camera.watchdogSeconds * 1000);
        never.unref();
      },
      stop: async () => {
        clearTimeout(never);
        await p.camera.stop();
      },
    };
  }

  /** Loads the sessions of an assignment and builds each camera's model on them. */
  private async build(a: Assignment): Promise<Running> {
    const c = this.o.config;
    const sessions = this.joint.sessions(a);
    const list: SharedSession[] = [...sessions.entries()].map(([key, s]) => ({ key, modelPath: s.option.modelPath!, threads: s.option.threads, ...(s.option.resolution ? { resolution: s.option.resolution } : {}) }));
    const maxThreads = Math.max(...list.map((s) => s.threads));
    const slots = Math.max(1, Math.floor(this.joint.input.board.cores / Math.max(1, maxThreads)));
    const engines = new SharedEngines();
    // the library the selection measured on (runtimeOf)
    const lib = runtimeOf(c).ortLibraryPath;
    const workers = await SharedWorkers.start(list, this.parts.map((p, ci) => {
      const o = this.joint.option(ci, a);
      return { id: p.cam.id, fps: p.cam.fps, session: sessionKey(o), costMs: o.timeMs / this.joint.input.board.slowdown };
    }), {
      slots, timeoutMs: c.engine.timeoutMs, ...(c.engine.modules.length ? { engineModules: c.engine.modules } : {}),
      ...(lib ? { ortLibraryPath: lib } : {}),
      ...engines.callbacks,
    });
    engines.workers = workers;
    for (const h of workers.hosts.values()) this.watchHost(h);
    const models = await Promise.all(this.parts.map(async (p, ci): Promise<ActiveModel> => {
      const v = this.joint.variant(ci, a);
      const host = workers.hosts.get(sessionKey(this.joint.option(ci, a)))!;
      return {
        engine: engines.engineFor(p.cam.id, host), variantId: v.id, resolution: v.resolution, labels: await readLabels(v.labelsPath),
        ...(v.detection ? { task: 'detection' as const, detection: v.detection, nativeResolution: v.nativeResolution ?? v.resolution } : {}),
      };
    }));
    return { engines, workers, models, assignment: [...a] };
  }

  private watchHost(h: EngineHost): void {
    const log = this.o.log, mqtt = () => this.mqttClient.mqtt;
    h.on('restart', (why: string) => { log.warn('inference worker restarted', { reason: why }); void mqtt()?.publishEvent({ type: 'engine', message: `worker restarted: ${why}` }); });
    h.on('degraded', (why: string) => { log.error('inference degraded', { reason: why }); void mqtt()?.setStatus('degraded'); void mqtt()?.publishEvent({ type: 'engine', message: `degraded: ${why}` }); });
    h.on('crash', (why: string) => log.warn('inference worker crashed', { reason: why }));
  }

  private onResult(p: CameraParts, r: InferenceResult): void {
    if (!p.filter.accept(r, Date.now())) return;
    p.results.write(r);
  }

  private variants(): string {
    return this.parts.map((p, ci) => `${p.cam.id}=${this.joint.variant(ci).id}`).join(',');
  }

  /**
   * A camera went offline (its watchdog restarts it as with one camera) or came back. Offline: its share is
   * freed, and after the cool-down the others may step up. Back: the set is solved again at once, since the
   * freed share may have been taken.
   */
  private setOnline(p: CameraParts, online: boolean): void {
    if (p.online === online || this.life.stopped) return;
    p.online = online;
    this.o.log.info(online ? 'camera back online' : 'camera offline: its share of the board is freed', { camera: p.cam.id });
    if (online) this.replanAfter(0, `camera ${p.cam.id} back online`);
    else this.replanAfterCooldown(`camera ${p.cam.id} offline`);
  }

  /**
   * A share was freed (a camera offline, the board no longer throttling): the set is solved again once the
   * cool-down since the last switch has passed, and not while the board throttles (its end re-solves).
   */
  private replanAfterCooldown(reason: string): void {
    const cooldown = this.o.config.adapt.cooldownSeconds * 1000;
    this.replanAfter(Math.max(0, this.lastSwitch + cooldown - Date.now(), cooldown), reason, true);
  }

  private replanAfter(wait: number, reason: string, stepsUp = false): void {
    if (!this.o.config.adapt.enabled || this.life.stopped) return;
    if (this.replan) clearTimeout(this.replan);
    this.replan = setTimeout(() => {
      if (stepsUp && this.throttled) return;
      void this.resolve(reason).catch((err: unknown) => this.o.log.warn('re-solving the joint choice failed', { error: errorMessage(err) }));
    }, wait);
    this.replan.unref();
  }

  /** Solves the joint choice again over the cameras online; switches the cameras whose option changed. */
  private resolve(reason: string): Promise<Reselection> {
    const run = this.switching.then(async () => {
      if (this.life.stopped) throw stoppingError();
      const next = this.joint.resolve(this.parts.map((p) => p.online));
      if (!next) return { variant: this.variants(), switched: false };
      await this.apply(next.assignment, `${reason}: ${next.reason}`);
      return { variant: this.variants(), switched: true };
    });
    this.switching = run.catch(() => undefined);
    return run;
  }

  /** The board throttles: the cheapest loss steps down (one step per cool-down). */
  private onThrottle(): void {
    this.stepDown('the board throttles');
  }

  /**
   * The adapter watching every camera: a camera online whose live p90 (offer to answer, queue wait included, over
   * the pipeline's window) is over its budget at two checks in a row makes the cheapest loss of the set step
   * down, not necessarily its own: the joint rule decides who pays. One step per cool-down.
   */
  private liveCheck(): void {
    const late = this.parts.flatMap((p, ci) => {
      if (!p.online) return [];
      const l = p.pipeline.pipeline.latency.percentiles();
      const budget = this.joint.plans[ci]!.budgetMs;
      return l.n >= 10 && l.p90 > budget ? [`${p.cam.id} live p90 ${l.p90.toFixed(1)} ms over its ${budget.toFixed(1)} ms`] : [];
    });
    // sustained: late at two checks in a row (a window apart), as the one-camera adapter waits out a burst
    const was = this.late;
    this.late = late.length > 0;
    if (this.late && was) this.stepDown(late.join(', '));
  }

  private stepDown(why: string): void {
    const cooling = () => Date.now() - this.lastSwitch < this.o.config.adapt.cooldownSeconds * 1000;
    if (this.life.stopped || !this.o.config.adapt.enabled || cooling() || this.stepQueued) return;
    this.stepQueued = true;
    // decided when its turn comes: from the set a re-solve still being applied leaves, and not within the cool-down
    // of that set (the lateness that asked for it was measured on the set before)
    this.switching = this.switching.then(async () => {
      this.stepQueued = false;
      if (this.life.stopped || cooling()) return;
      const s = this.joint.stepDown(this.parts.map((p) => p.online));
      if (!s) return;
      this.lastSwitch = Date.now();
      await this.apply(s.assignment, `${why}: ${s.step.reason}`);
    }).catch((err: unknown) => this.o.log.error('step down failed; the previous set keeps running', { error: errorMessage(err) }));
  }

  /** Loads the new set on new workers, swaps every pipeline between frames, then closes the old workers. */
  private async apply(next: Assignment, reason: string): Promise<void> {
    const old = this.running!;
    const before = old.assignment;
    const built = await this.build(next);
    try {
      for (const [ci, p] of this.parts.entries()) {
        const m = built.models[ci]!;
        const pipe = p.pipeline.pipeline;
        const interpret = pipe.prepare(m);
        const from = this.joint.variant(ci, before), to = this.joint.variant(ci, next);
        if (from.resolution !== to.resolution || frameFit(from) !== frameFit(to)) await p.camera.source.reconfigure({ width: to.resolution, height: to.resolution, fit: frameFit(to) });
        await pipe.swap(m, interpret);
        p.model = m;
      }
    } catch (err) {
      await built.workers.close();
      this.retireEngines(built);
      throw err;
    }
    this.running = built;
    // in the same step: the totals never dip while the old workers close (every pipeline runs on the new ones)
    this.retireEngines(old);
    this.joint.assignment = [...next];
    await old.workers.close();
    this.lastSwitch = Date.now();
    const mqtt = this.mqttClient.mqtt;
    for (const [ci, p] of this.parts.entries()) {
      if (before[ci] === next[ci]) continue;
      const from = this.joint.variant(ci, before).id, to = this.joint.variant(ci, next).id;
      this.joint.reasons[ci] = reason;
      this.o.log.info('switched model', { camera: p.cam.id, from, to, reason });
      await mqtt?.publishEvent({ type: 'switch', message: `${p.cam.id}: ${reason}`, from, to });
    }
    await this.publishModel();
  }

  /** Closed workers: their engine counts stay in the totals (each new worker host counts from 0). */
  private retireEngines(r: Running): void {
    for (const h of r.workers.hosts.values()) this.engineTotals.retire(h.stats);
  }

  /** The retained `model`: the first camera's choice at the top level, every camera in `cameras`, the set in `joint`. */
  async publishModel(): Promise<void> {
    const mqtt = this.mqttClient.mqtt;
    if (!mqtt) return;
    await mqtt.setModel(this.modelPayload());
  }

  modelPayload(): Omit<ModelPayload, 'session'> {
    const j = this.joint;
    const first = this.parts[0]!;
    const v0 = j.variant(0);
    const choice0 = { ...j.plans[0]!.choice, variant: v0, provider: 'cpu' as const, threads: j.option(0).threads, reason: j.reasons[0]! };
    const base = modelPayload(this.o.config.deviceId, j.device.board.kind, choice0);
    const last = j.verification?.rounds[j.verification.rounds.length - 1];
    const cameras: CameraModel[] = this.parts.map((p, ci) => {
      const o = j.option(ci), v = j.variant(ci), d = j.decision.cameras[ci]!;
      const m = last && last.assignment[ci] === j.assignment[ci] ? last.cameras[ci] : undefined;
      const acc = accuracyOf(v);
      return {
        id: p.cam.id, variant: v.id, task: taskOf(v), provider: 'cpu', threads: o.threads, fps: p.cam.fps, reason: j.reasons[ci]!,
        priority: p.cam.priority, budgetMs: round2(j.plans[ci]!.budgetMs), predictedP90Ms: round2(Math.min(1e6, j.assignment[ci] === d.index ? d.predictedP90Ms : o.p90Ms / j.input.board.slowdown)),
        demand: round2((p.cam.fps * o.timeMs * o.threads) / 1000), resolution: v.resolution,
        ...(acc ? { accuracy: acc.value } : {}),
        ...(d.misses.length ? { misses: d.misses } : {}),
        ...(m ? { measured: { fps: round2(m.achievedFps), p90Ms: round2(Math.min(1e6, m.p90Ms)), served: round2(m.served) } } : {}),
        ...this.fleetUse(ci),
      };
    });
    const b = j.input.board;
    const { fleet: _single, ...rest } = base;
    return {
      ...rest, ...(cameras[0]!.fleet ? { fleet: cameras[0]!.fleet } : {}), reason: `${first.cam.id}: ${j.reasons[0]}`, cameras,
      joint: {
        feasible: j.decision.feasible, rule: j.decision.rule, cores: b.cores, slowdown: round2(b.slowdown), capacity: round2(b.cores * b.slowdown),
        demand: round2(j.demand()), memoryMb: round2(j.decision.load.memoryMb), verifiedRounds: j.verification?.rounds.length ?? 0, met: j.verification ? j.verification.met : null,
      },
    };
  }

  /**
   * What camera `ci`'s selection owes to the fleet (fleet.useMeasurements): its own selection's use, with whether
   * the option it runs now was ranked on a figure another device measured (a lighter rung the joint choice stepped
   * down to may not have been confirmed here; the set's concurrent measurement is this device's own).
   */
  private fleetUse(ci: number): { fleet?: FleetUsePayload } {
    const plan = this.joint.plans[ci]!;
    const use = plan.choice.fleet;
    if (!use) return {};
    const o = this.joint.option(ci), v = this.joint.variant(ci);
    const cand = plan.choice.candidates.find((c) => c.variant.id === v.id && c.provider === 'cpu');
    const fromFleet = cand?.measurements.some((m) => m.threads === o.threads && m.fromFleet !== undefined) ?? false;
    return { fleet: { ...use, confirmed: use.confirmed.slice(0, 16), chosenFigures: fromFleet ? 'fleet' : 'own' } };
  }

  private startTelemetry(): void {
    this.telemetryTimer = setInterval(() => { void this.publishTelemetry(); }, this.o.config.mqtt.telemetrySeconds * 1000);
    this.telemetryTimer.unref();
    if (this.o.config.adapt.enabled) {
      this.adaptTimer = setInterval(() => this.liveCheck(), this.o.config.adapt.windowSeconds * 1000);
      this.adaptTimer.unref();
    }
  }

  private async publishTelemetry(): Promise<void> {
    const t = this.telemetry();
    t.temperatureC = await cpuTemperature();
    t.throttled = await this.throttle.sample();
    const was = this.throttled;
    this.throttled = this.throttle.throttled;
    // sustained over two windows, as one reading may catch a passing cap
    if (this.throttled && was) this.onThrottle();
    else if (was && !this.throttled) this.replanAfterCooldown('the board no longer throttles');
    this.lastPublished = t;
    this.mqttClient.mqtt?.publishTelemetry(t);
  }

  /** The `telemetry` payload: summed over the cameras at the top level (latency: the worst camera), and per camera. */
  telemetry(): TelemetryPayload {
    const now = Date.now();
    const windowSeconds = (now - this.lastTelemetry) / 1000;
    this.lastTelemetry = now;
    const cams: CameraTelemetry[] = [];
    let framesIn = 0, inferred = 0, dropped = 0, fps = 0, stalls = 0, restarts = 0, paused = true;
    const worst = { lat: { p50: 0, p90: 0, p99: 0 }, inf: { p50: 0, p90: 0, p99: 0 } };
    for (const [ci, p] of this.parts.entries()) {
      const ps = p.pipeline.pipeline.stats(), cs = p.camera.source.stats();
      const lat = p.pipeline.pipeline.latency.percentiles(), inf = p.pipeline.pipeline.infer.percentiles();
      const droppedTotal = cs.dropped + ps.superseded;
      const secs = (now - p.last.at) / 1000;
      const camFps = secs > 0 ? round2((ps.inferred - p.last.inferred) / secs) : 0;
      cams.push({
        id: p.cam.id, variant: this.joint.variant(ci).id, fps: camFps, p90Ms: round2(Math.min(1e6, lat.p90)), dropped: Math.max(0, droppedTotal - p.last.dropped),
        status: cs.online ? 'running' : 'offline', inferred: ps.inferred, restarts: cs.restarts, droppedTotal,
      });
      p.last = { at: now, inferred: ps.inferred, dropped: droppedTotal };
      framesIn += cs.framesIn; inferred += ps.inferred; dropped += droppedTotal; fps += camFps; stalls += cs.stalls; restarts += cs.restarts; paused &&= ps.paused;
      for (const k of ['p50', 'p90', 'p99'] as const) { worst.lat[k] = Math.max(worst.lat[k], lat[k]); worst.inf[k] = Math.max(worst.inf[k], inf[k]); }
    }
    // since the daemon started: the workers closed by model changes and the ones running; degraded: the running ones
    const hosts = [...(this.running?.workers.hosts.values() ?? [])];
    const totals = this.engineTotals.totals(hosts.map((h) => h.stats));
    const es = { restarts: totals.restarts, timeouts: totals.timeouts, crashes: totals.crashes, degraded: hosts.some((h) => h.stats.degraded) };
    const mqtt = this.mqttClient.mqtt, ms = mqtt?.stats();
    return {
      deviceId: this.o.config.deviceId, session: mqtt?.session ?? 0, ts: new Date(now).toISOString(), windowSeconds: round2(windowSeconds),
      variant: this.joint.variant(0).id, provider: 'cpu', paused,
      frames: { in: framesIn, inferred, dropped }, fps: round2(fps), latencyMs: worst.lat, inferMs: worst.inf,
      cpuPercent: this.cpu.sample(), rssMb: Math.round(process.memoryUsage.rss() / 1048576 * 10) / 10, temperatureC: null, throttled: null,
      outbox: { depth: ms?.outbox.depth ?? 0, dropped: ms?.outbox.dropped ?? 0, refused: ms?.refusedAppends ?? 0 }, reconnects: ms?.reconnects ?? 0,
      engine: es, camera: { online: cams.every((x) => x.status === 'running'), stalls, restarts },
      eventLoopDelayP99Ms: this.loop.p99Ms(), cameras: cams,
    };
  }

  reselect(reason: string): Promise<Reselection> {
    return this.resolve(reason);
  }

  get brokerUrl(): string | undefined {
    return this.mqttClient.url;
  }

  get board(): string { return boardFingerprint(this.joint.device); }

  stop(): Promise<void> {
    if (this.replan) clearTimeout(this.replan);
    return this.life.stop();
  }
}

