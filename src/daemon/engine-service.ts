import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { EngineHost, type HostOptions } from '../engine/host.js';
import type { SupervisedEngine, SupervisedEngineStats } from '../engine/engine.js';
import type { ActiveModel } from '../pipeline/pipeline.js';
import type { MqttService } from '../mqtt/service.js';
import type { Choice } from '../select/choose.js';
import type { Variant } from '../catalog/types.js';
import { runtimeOf, setTensorrtEnvironment } from '../profile/runtime.js';
import { readLabels } from './labels.js';
import type { Service } from './service.js';

/**
 * How the daemon loads a choice into an engine host: the pipeline's engine, and the rollout's fidelity child
 * (src/daemon/rollout-fidelity.ts), which must read a frame exactly as the pipeline would.
 */
export function hostOptionsFor(c: Config, choice: Pick<Choice, 'variant' | 'provider' | 'threads'>): HostOptions {
  return {
    engineModules: c.engine.modules,
    providers: [choice.provider], threads: choice.threads, timeoutMs: c.engine.timeoutMs, resolution: choice.variant.resolution,
    // what the profiler measured on (runtimeOf): the library, TensorRT's FP16 and engine cache
    ...runtimeHostOptions(c),
    optimizedCacheDir: join(c.stateDir, 'ort-optimized'),
  };
}

function runtimeHostOptions(c: Config): Pick<HostOptions, 'ortLibraryPath' | 'trtFp16' | 'trtCacheDir'> {
  const r = runtimeOf(c);
  return { trtFp16: r.trtFp16, ...(r.trtCacheDir ? { trtCacheDir: r.trtCacheDir } : {}), ...(r.ortLibraryPath ? { ortLibraryPath: r.ortLibraryPath } : {}) };
}

/** What the pipeline knows of a variant besides its engine: how its output is read (its task) and named. */
export function modelOf(v: Variant, labels: string[] | undefined): Omit<ActiveModel, 'engine'> {
  return { variantId: v.id, resolution: v.resolution, labels, ...(v.detection ? { task: 'detection' as const, detection: v.detection, nativeResolution: v.nativeResolution ?? v.resolution } : {}) };
}

/** A model loaded in its engine host, as the pipeline runs it. */
export type LoadedModel = ActiveModel & { engine: SupervisedEngine };

export interface EngineInputs {
  config: Config;
  log: Logger;
  /** the model to load first */
  choice(): Choice;
  mqtt(): MqttService | undefined;
}

/** Counts of engine trouble that only go up: an engine host's own counts start at 0 with each model it loads. */
export interface EngineTotals { runs: number; timeouts: number; crashes: number; restarts: number }

/**
 * Running totals over engine hosts that come and go (a model switch replaces the host): the counts of the hosts
 * retired (closed, or replaced and about to be closed) are kept, and the live hosts' own counts are added to them.
 * Used by the one-camera engine (EngineService) and the several-camera daemon (its shared workers).
 */
export class EngineTotalsKeeper {
  private readonly retired: EngineTotals = { runs: 0, timeouts: 0, crashes: 0, restarts: 0 };

  /** a host that runs no frame any more (its counts no longer move): its counts join the totals for good */
  retire(s: Readonly<EngineTotals>): void {
    addTo(this.retired, s);
  }

  /** the totals since the daemon started: the retired hosts' counts plus those of the hosts running now */
  totals(live: Iterable<Readonly<EngineTotals>>): EngineTotals {
    const t = { ...this.retired };
    for (const s of live) addTo(t, s);
    return t;
  }
}

function addTo(t: EngineTotals, s: Readonly<EngineTotals>): void {
  t.runs += s.runs; t.timeouts += s.timeouts; t.crashes += s.crashes; t.restarts += s.restarts;
}

/**
 * The engine of the running model: loads a choice into a supervised worker (its restarts and degradation reported
 * to the log and MQTT) and, at stop, closes the model running then. A switch (selection-service.ts) loads the next
 * model here and makes it `current` once the pipeline runs it; the counts of the engine it replaces are kept in
 * the running totals (`totals`, `health`), so telemetry and a rollout's proving figures span model switches.
 */
export class EngineService implements Service {
  readonly name = 'engine';
  private model: LoadedModel | undefined;
  private readonly kept = new EngineTotalsKeeper();
  /** the totals as the running model took over: what it has cost since is `totals` minus these */
  private atSwitch: EngineTotals = { runs: 0, timeouts: 0, crashes: 0, restarts: 0 };

  constructor(private readonly i: EngineInputs) {}

  /** the model the pipeline runs */
  get current(): LoadedModel | undefined { return this.model; }
  /** set once the pipeline runs `m` (the one it replaced runs no frame any more: its counts are kept) */
  set current(m: LoadedModel | undefined) {
    if (this.model && this.model !== m) this.kept.retire(this.model.engine.stats);
    const switched = this.model !== m;
    this.model = m;
    if (switched) this.atSwitch = this.totals;
  }


  /** runs, timeouts, crashes and restarts since the daemon started, over every model it ran */
  get totals(): EngineTotals {
    return this.kept.totals(this.model ? [this.model.engine.stats] : []);
  }

  /**
   * What the daemon's telemetry and rollout read of the engine: the running totals (`totals`, not the current
   * host's own counts, which start at 0 with each switch) and whether the running engine is degraded.
   */
  get health(): { readonly stats: Readonly<SupervisedEngineStats>; readonly atSwitch: Readonly<EngineTotals> } {
    if (!this.model) throw new Error('no model is loaded yet');
    return { stats: { ...this.totals, degraded: this.model.engine.stats.degraded }, atSwitch: { ...this.atSwitch } };
  }

  async start(): Promise<void> {
    this.current = await this.load(this.i.choice());
  }

  async stop(): Promise<void> {
    await this.current?.engine.close();
  }

  async load(choice: Choice): Promise<LoadedModel> {
    const { config: c, log } = this.i;
    const v = choice.variant;
    if (choice.provider === 'tensorrt') setTensorrtEnvironment(runtimeOf(c));
    const engine: SupervisedEngine = await EngineHost.start(v.modelPath, hostOptionsFor(c, choice));
    engine.on('restart', (why: string) => { log.warn('inference worker restarted', { reason: why }); void this.i.mqtt()?.publishEvent({ type: 'engine', message: `worker restarted: ${why}` }); });
    engine.on('degraded', (why: string) => { log.error('inference degraded', { reason: why }); void this.i.mqtt()?.setStatus('degraded'); void this.i.mqtt()?.publishEvent({ type: 'engine', message: `degraded: ${why}` }); });
    engine.on('crash', (why: string) => log.warn('inference worker crashed', { reason: why }));
    return { engine, ...modelOf(v, await readLabels(v.labelsPath)) };
  }
}
