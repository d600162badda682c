import type { Config } from '../config/types.js';
import { frameFit } from '../camera/fit.js';
import type { Logger } from '../util/log.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { boardFingerprint, daemonDeviceRoot, probeDevice } from '../device/probe.js';
import type { FleetSeed } from '../select/fleet-seed.js';
import { probeProvidersIsolated } from '../device/providers-isolated.js';
import { providerPlan } from '../select/providers.js';
import type { DeviceInfo } from '../device/types.js';
import { buildLadder, ladderWarning } from '../catalog/ladder.js';
import type { Variant } from '../catalog/types.js';
import type { Catalog } from '../catalog/catalog.js';
import { budgetFromConfig, chooseModel, probeDirOf, type Choice } from '../select/choose.js';
import { hasProbePhotos, needsAgreement } from '../profile/agreement.js';
import type { Budget } from '../select/types.js';
import type { Adapter, SwitchEvent } from '../select/adapt.js';
import { bestOf } from '../profile/measure.js';
import type { FrameSource } from '../camera/source.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { MqttService } from '../mqtt/service.js';
import { makeAdapter } from './adapt.js';
import { modelPayload } from './model-payload.js';
import { stoppingError, type Reselection } from './commands.js';
import type { EngineService } from './engine-service.js';
import type { Service } from './service.js';

export interface SelectionInputs {
  config: Config;
  log: Logger;
  /** aborted when the daemon stops: ends a re-selection's measurement */
  signal: AbortSignal;
  stopped(): boolean;
  engine: EngineService;
  source(): FrameSource;
  pipeline(): Pipeline;
  mqtt(): MqttService | undefined;
  /** the board throttled in the last telemetry window: live latency says less then */
  throttled(): boolean;
  /** the fleet's shared measurements of this board, for the first selection (fleet.useMeasurements) */
  fleetSeed?: (board: string) => Promise<FleetSeed | undefined>;
  /** the device as already probed (several cameras: probed once for all of them) */
  device?: DeviceInfo;
}

/** profile.probeDir directories already said to hold no photo (see SelectionService.checkProbeDir) */
const warnedProbeDirs = new Set<string>();

/**
 * Selection, live adaptation and switching: probes the device, builds the ladder and makes the first choice
 * (`prepare`, before the services start); then re-selects on command, steps down or up when live latency
 * leaves the budget, and switches models without stopping the camera. Switches run one at a time; its stop
 * waits for the switch in progress.
 */
export class SelectionService implements Service {
  readonly name = 'selection';
  device!: DeviceInfo;
  choice!: Choice;
  /** the ladder's warning (no pretrained model, ...), part of the `online` status (statusWarning) */
  warning: string | undefined;
  private ladder: Variant[] = [];
  private budget!: Budget;
  private budgetOverride: Partial<Config['budget']> = {};
  private adapter: Adapter | undefined;
  private switching: Promise<unknown> = Promise.resolve();
  /** a catalog a rollout is proving (src/daemon/fleet-rollout.ts); undefined: the configured one */
  private catalog: Catalog | undefined;

  constructor(private readonly i: SelectionInputs) {}

  private get log(): Logger { return this.i.log; }

  /** The device, the ladder and the first choice, before anything is loaded. */
  async prepare(): Promise<void> {
    const c = this.i.config;
    this.log.info('probing the device');
    // providers are proven in a child process (on the binding the engine will use): the probe sessions' native
    // memory stays out of the daemon, and a GPU library that crashes cannot take it down
    if (this.i.device) this.device = this.i.device;
    else {
      const [device, providers] = await Promise.all([probeDevice({ root: daemonDeviceRoot(), ort: null }), probeProvidersIsolated(c.engine.ortLibraryPath || undefined)]);
      this.device = { ...device, providers };
    }
    const providers = this.device.providers;
    if (providers.usable.length === 0) this.log.warn('no execution provider was proven; trying cpu', { error: providers.error ?? 'none' });
    const plan = providerPlan(c, this.device);
    if (plan.notice) this.log[plan.expected ? 'info' : 'warn'](plan.notice, { refused: plan.unavailable.map((u) => `${u.provider}: ${u.reason}`).join('; ') });
    this.log.info('device', { board: this.device.board.kind, cpu: this.device.cpu.model, cores: this.device.cpu.cores, memoryMb: this.device.memory.effectiveMb, providers: this.device.providers.usable.join(',') });
    await this.loadLadder();
    this.budget = budgetFromConfig(c, this.device, this.budgetOverride);
    this.choice = await this.select(false, await this.i.fleetSeed?.(boardFingerprint(this.device)));
  }

  /**
   * A probeDir the user set that holds no photo (a typo, an unmounted disk) turns off, without a word, the check of
   * every reduced-resolution rung against its native model; an empty one is filled by the camera's own frames.
   */
  private async checkProbeDir(): Promise<void> {
    const c = this.i.config;
    if (!c.profile.probeDir.trim() || !this.ladder.some(needsAgreement)) return;
    const dir = probeDirOf(c);
    // once per directory per process: several cameras share it, and every re-selection reloads the ladder
    if (warnedProbeDirs.has(dir) || (await hasProbePhotos(dir))) return;
    warnedProbeDirs.add(dir);
    this.log.warn('profile.probeDir holds no JPEG, PNG or BMP photo: reduced-resolution rungs are not checked against their native model', {
      probeDir: dir, fix: 'correct profile.probeDir, or leave it empty so the camera\'s own frames are collected in <stateDir>/probe-frames',
    });
  }

  /**
   * The warning of the retained status: the ladder's, and while nothing fits the budget the running choice's
   * reason (every cause, the setting behind it, and whether the model is one budget.minAccuracy refuses). A status
   * watcher (Home Assistant, the dashboard) sees it without reading the `model` payload.
   */
  get statusWarning(): string | undefined {
    const parts = [this.warning, this.choice?.overBudget ? this.choice.reason : undefined].filter((w): w is string => !!w);
    return parts.length > 0 ? parts.join(' | ') : undefined;
  }

  async start(): Promise<void> {
    this.adapter = makeAdapter(this.i.config, this.choice, this.budget);
  }

  async stop(): Promise<void> {
    await this.switching;
  }

  /** Live latency of one result; a sustained drift out of the budget (or room to grow) switches the model. */
  observe(inferMs: number): void {
    const ev = this.adapter?.observe(inferMs, { throttled: this.i.throttled() });
    if (ev) void this.adapt(ev);
  }

  /** The catalog the next loadLadder() reads: a rollout's while it proves itself, undefined for the configured one. */
  useCatalog(catalog: Catalog | undefined): void {
    this.catalog = catalog;
  }

  async loadLadder(): Promise<void> {
    this.ladder = await buildLadder(this.i.config, { log: (l) => this.log.warn(l), alarm: (l) => this.log.error(l), ...(this.catalog ? { catalog: this.catalog } : {}) });
    this.warning = ladderWarning(this.ladder);
    // a pull may bring the first rung that needs the probe photos
    await this.checkProbeDir();
    if (this.warning) {
      this.log.warn('*'.repeat(78));
      this.log.warn(this.warning);
      this.log.warn('*'.repeat(78));
    }
    if (this.ladder.length === 0) throw new EdgefitError('E_NO_MODEL', this.warning ?? 'no model is available');
    this.log.info('model ladder', { variants: this.ladder.length, pretrained: this.ladder.filter((v) => v.pretrained).length });
  }

  /** Re-runs selection (measurements come from the cache) and switches model if the choice changed. */
  reselect(reason: string, budget?: Partial<Config['budget']>): Promise<Reselection> {
    if (budget) this.budgetOverride = { ...this.budgetOverride, ...budget };
    const run = this.switching.then(async () => {
      // queued before a stop: nothing is loaded any more
      if (this.i.stopped()) throw stoppingError();
      this.budget = budgetFromConfig(this.i.config, this.device, this.budgetOverride);
      const choice = await this.select(true);
      // the same model file and labels too: a catalog may re-quantize a model or ship new labels under the same id
      const v = choice.variant, was = this.choice.variant;
      const same = v.id === was.id && v.sha256 === was.sha256 && v.modelPath === was.modelPath && v.labelsPath === was.labelsPath
        && choice.provider === this.choice.provider && choice.threads === this.choice.threads;
      if (!same) await this.switchTo(choice, reason);
      else this.choice = choice;
      this.adapter = makeAdapter(this.i.config, this.choice, this.budget);
      await this.publishModel();
      return { variant: this.choice.variant.id, switched: !same };
    });
    this.switching = run.catch(() => undefined);
    return run;
  }

  /**
   * The retained `model` payload of the running choice; and the retained status again when its warning changed (a
   * pull or a budget change made the budget fit, or stop fitting), so a stale "nothing fits" does not outlive it.
   */
  async publishModel(): Promise<void> {
    const mqtt = this.i.mqtt();
    await mqtt?.setModel(modelPayload(this.i.config.deviceId, this.device.board.kind, this.choice));
    await mqtt?.setWarning(this.statusWarning ?? '');
  }

  /** `stoppable`: a stop() ends the selection at once, killing the measurement in progress (a re-selection by command) */
  private async select(stoppable = false, seed?: FleetSeed): Promise<Choice> {
    this.log.info('profiling and selecting (cached measurements are reused)');
    const choice = await chooseModel(this.i.config, this.device, this.ladder, this.budget, (p) => {
      if (p.agreement) this.log.info('agreement with the native model', { candidate: p.candidate, cached: p.cached, ...(p.agreement.ok ? { agreeing: p.agreement.agreeing, frames: p.agreement.frames } : { error: p.agreement.error ?? 'failed' }) });
      if (!p.measurement && !p.agreement) return;
      if (p.measurement) this.log.info('measured', { candidate: p.candidate, threads: p.threads, cached: p.cached, ok: p.measurement.ok, p90Ms: Math.round(p.measurement.latencyMs.p90 * 100) / 100 });
      // newly pulled models are profiled here, for minutes: a stop waits for one measurement, not for all
      if (stoppable && this.i.stopped()) throw stoppingError();
    }, stoppable ? this.i.signal : undefined, seed);
    if (choice.overBudget) {
      // as loud as the ladder's warning: the camera runs on a model outside the budget the user set; an error
      // when that model is one budget.minAccuracy refuses (nothing meeting the minimum could run)
      const level = choice.belowMinAccuracy ? 'error' : 'warn';
      this.log[level]('*'.repeat(78));
      this.log[level](choice.reason);
      this.log[level]('*'.repeat(78));
    }
    return choice;
  }

  /** Live re-selection: the adapter saw the live latency leave the budget (or room to grow) for long enough. */
  private adapt(ev: SwitchEvent): Promise<unknown> {
    const target = this.choice.candidates.find((c) => c.id === ev.to);
    if (!target) return Promise.resolve();
    const best = bestOf(target.measurements, this.budget.percentile ?? 'p90');
    const reason = `${ev.reason === 'over-budget' ? 'step down' : 'step up'}: ${ev.detail}`;
    const next = { ...this.choice, variant: target.variant, provider: target.provider, threads: best?.threads ?? this.choice.threads, reason, overBudget: false };
    const run = this.switching.then(async () => {
      if (this.i.stopped()) return;
      try {
        await this.switchTo(next, reason);
        await this.publishModel();
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
    const model = await this.i.engine.load(choice);
    // a model its task cannot read is refused before the camera changes: the running one goes on
    const interpret = await Promise.resolve().then(() => this.i.pipeline().prepare(model)).catch(async (err: unknown) => { await model.engine.close(); throw err; });
    if (choice.variant.resolution !== this.choice.variant.resolution || frameFit(choice.variant) !== frameFit(this.choice.variant)) {
      await this.i.source().reconfigure({ width: choice.variant.resolution, height: choice.variant.resolution, fit: frameFit(choice.variant) });
    }
    const old = await this.i.pipeline().swap(model, interpret);
    this.choice = choice;
    this.i.engine.current = model;
    await old.engine.close();
    this.log.info('switched model', { from, to: choice.variant.id, reason });
    const mqtt = this.i.mqtt();
    await mqtt?.publishEvent({ type: 'switch', message: reason, from, to: choice.variant.id });
    if (mqtt) await mqtt.setStatus('online');
  }
}
