import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { AcceptedCatalogs, installRolloutCatalog, loadConfiguredCatalog, loadPublicKey, verifyCatalog, type VerifiedCatalog } from '../catalog/signature.js';
import type { SupervisedEngineStats } from '../engine/engine.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { MqttService } from '../mqtt/service.js';
import { inStage, parseDesired, parseState, rolloutTopics, ROLLOUT_FORMAT, type DeviceHealth, type MemberReport, type RolloutDesired } from '../mqtt/fleet-rollout.js';
import type { Reselection } from './commands.js';
import type { SelectionService } from './selection-service.js';
import type { Service } from './service.js';
import { loadProbeSet, type ProbeSet } from '../profile/agreement.js';
import { probeDirOf } from '../select/choose.js';
import { answersOn, compareAnswers, MIN_FIDELITY_FRAMES, type Answers, type Fidelity } from './rollout-fidelity.js';

export interface FleetRolloutInputs {
  config: Config;
  log: Logger;
  signal: AbortSignal;
  stopped(): boolean;
  board(): string;
  mqtt(): MqttService | undefined;
  selection: SelectionService;
  reselect(reason: string): Promise<Reselection>;
  pipeline(): Pipeline;
  /**
   * the engine's counts since the daemon started, over every model it ran (EngineService.health): a switch starts a
   * new engine host whose own counts start at 0, so the new model's figures are differences of these totals;
   * `atSwitch`: the totals as the running model took over (absent: not known)
   */
  engine(): { readonly stats: Readonly<Pick<SupervisedEngineStats, 'crashes' | 'restarts'>>; readonly atSwitch?: Readonly<Pick<SupervisedEngineStats, 'crashes' | 'restarts'>> };
}

interface Taken { rolloutId: string; verified: VerifiedCatalog; path: string; phase: 'proving' | 'proven' }

/**
 * This device's part in its group's rollouts (fleet.group): it publishes its membership (retained), and when the
 * group's desired catalog takes it (its rank in the stage) it verifies the catalog (models.publicKey, versions
 * only go up), pulls its models in a child process, selects and switches with the running model as the last good
 * one, runs for fleet.provingSeconds and reports its health (with its fidelity to the last good model on the probe
 * frames, src/daemon/rollout-fidelity.ts). The last good model's p90 and fps are measured over at least
 * fleet.provingSeconds of its own running: a device that (re)started a moment ago runs it that long before it
 * switches. A rollback, or a stage that no longer takes it,
 * puts the configured (last good) catalog back; a completed rollout installs the new catalog for good
 * (<stateDir>/rollout/active.json, and the replay guard's version). A restart before then starts on the last good.
 */
export class FleetRolloutService implements Service {
  readonly name = 'fleet-rollout';
  private taken: Taken | undefined;
  private work: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private version = 0;
  private readonly t;
  /** the newest desired message received (set on arrival, before the queue handles it) */
  private latestDesired: Buffer | undefined;
  /** stop() was called: a wait for the last good model's figures ends at once */
  private closing = false;
  private wake: (() => void) | undefined;

  constructor(private readonly i: FleetRolloutInputs) {
    this.t = rolloutTopics(i.config.mqtt.prefix, i.config.fleet.group);
  }

  async start(): Promise<void> {
    const mqtt = this.i.mqtt();
    if (!mqtt) return;
    this.version = new AcceptedCatalogs(this.i.config.stateDir).read()?.catalogVersion ?? 0;
    this.baseline = this.sample();
    mqtt.on('online', () => { void this.report(); });
    await this.report().catch(() => undefined);
    await mqtt.watch(this.t.desired, (p) => { this.latestDesired = p; this.queue(() => this.onDesired(p)); });
    await mqtt.watch(this.t.state, (p) => this.queue(() => this.onState(p)));
  }

  async stop(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    await this.work;
  }

  private queue(fn: () => Promise<void>): void {
    this.work = this.work.then(fn).catch((err: unknown) => this.i.log.error('rollout step failed', { error: errorMessage(err) }));
  }

  private async report(rollout?: MemberReport['rollout']): Promise<void> {
    const mqtt = this.i.mqtt();
    if (!mqtt) return;
    const r: MemberReport = {
      format: ROLLOUT_FORMAT, deviceId: this.i.config.deviceId, group: this.i.config.fleet.group, board: this.i.board(),
      catalogVersion: this.version, ts: new Date().toISOString(), ...(rollout ? { rollout } : {}),
    };
    this.last = rollout ?? this.last;
    await mqtt.publishFleet(this.t.member(this.i.config.deviceId), JSON.stringify(this.last ? { ...r, rollout: this.last } : r));
  }
  private last: MemberReport['rollout'];
  private lastState: Buffer | undefined;
  /**
   * the pipeline's counters when the last good model started running here (the service's start, a rollback, an
   * install): the previous model's fps is measured from here
   */
  private baseline = { p90Ms: 0, inferN: 0, inferred: 0, at: Date.now(), crashes: 0, restarts: 0 };

  /** the pipeline's figures now; crashes and restarts: the engine's totals since the daemon started */
  private sample(): { p90Ms: number; inferN: number; inferred: number; at: number; crashes: number; restarts: number } {
    const p = this.i.pipeline();
    const e = this.i.engine().stats;
    const w = p.infer.percentiles();
    return { p90Ms: w.p90, inferN: w.n, inferred: p.stats().inferred, at: Date.now(), crashes: e.crashes, restarts: e.restarts };
  }

  /**
   * The last good model runs at least fleet.provingSeconds since `baseline` before its p90 and fps are taken: after
   * a restart the retained desired catalog arrives a moment after the start, and figures over ~0 s (an empty
   * inference window, an fps over no time) would be 0, which the gate cannot judge. False: the service stops, or a
   * newer desired message no longer takes this device for this rollout (the queue handles it next).
   */
  private async runLastGoodFirst(d: RolloutDesired): Promise<boolean> {
    const wait = this.i.config.fleet.provingSeconds * 1000 - (Date.now() - this.baseline.at);
    if (wait > 0) {
      this.i.log.info('rollout: measuring the running (last good) model before the switch', { rollout: d.rolloutId, seconds: round(wait / 1000) });
      await this.sleep(wait);
    }
    if (this.closing || this.i.stopped()) return false;
    const latest = this.latestDesired ? parseDesired(this.latestDesired, this.i.config.fleet.group) : undefined;
    return !latest || (latest.rolloutId === d.rolloutId && !latest.rollback && inStage(latest.rolloutId, this.i.config.deviceId, latest.cutoff));
  }

  /** resolves after `ms`, or at once when the service or the daemon stops */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.wake = undefined; this.i.signal.removeEventListener('abort', done); resolve(); };
      const timer = setTimeout(done, ms);
      this.wake = done;
      this.i.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async onDesired(payload: Buffer): Promise<void> {
    if (this.i.stopped()) return;
    const d = parseDesired(payload, this.i.config.fleet.group);
    if (!d) return;
    const mine = !d.rollback && inStage(d.rolloutId, this.i.config.deviceId, d.cutoff);
    if (!mine) {
      if (this.taken?.rolloutId === d.rolloutId) await this.rollBack(d, d.rollback ? 'rolled back by the rollout' : 'no longer in the rollout');
      return;
    }
    if (this.taken?.rolloutId === d.rolloutId || this.last?.rolloutId === d.rolloutId) return;
    // the catalog this device installed already (a restart after the rollout completed: desired stays retained)
    if (d.catalogVersion === this.version) return;
    await this.take(d);
  }

  private async take(d: RolloutDesired): Promise<void> {
    const c = this.i.config;
    const refuse = (reason: string) => { this.i.log.warn('rollout refused', { rollout: d.rolloutId, reason }); return this.report({ rolloutId: d.rolloutId, phase: 'refused', catalogVersion: d.catalogVersion, reason: reason.slice(0, 480) }); };
    if (!c.models.publicKey) return refuse('models.publicKey is not set: this device takes signed catalogs only');
    const path = join(c.stateDir, 'rollout', `catalog-v${d.catalogVersion}.json`);
    let verified: VerifiedCatalog;
    try {
      verified = verifyCatalog(Buffer.from(d.catalog, 'utf8'), path, loadPublicKey(c.models.publicKey), d.signature);
      if (verified.catalogVersion !== d.catalogVersion) throw new Error(`the signed catalog is version ${verified.catalogVersion}, the rollout says ${d.catalogVersion}`);
      new AcceptedCatalogs(c.stateDir).check(verified, path);
      if (verified.catalogVersion <= this.version) throw new Error(`catalog version ${verified.catalogVersion} is not newer than version ${this.version} running here`);
    } catch (err) {
      return refuse(errorMessage(err));
    }
    if (!(await this.runLastGoodFirst(d))) return;
    await writeFileAtomic(path, d.catalog);
    await writeFileAtomic(`${path}.sig`, d.signature);
    this.taken = { rolloutId: d.rolloutId, verified, path, phase: 'proving' };
    await this.report({ rolloutId: d.rolloutId, phase: 'switching', catalogVersion: d.catalogVersion });
    const before = this.sample();
    const span = (before.at - this.baseline.at) / 1000;
    if (before.inferN === 0 || before.inferred === this.baseline.inferred) {
      this.i.log.warn('rollout: the running model inferred no frame while it was measured: its p90 and fps are unknown (reported as 0, not judged)', { rollout: d.rolloutId, seconds: round(span) });
    }
    const previousFps = round(span > 0 ? (before.inferred - this.baseline.inferred) / span : 0);
    // the last good model's answers, while it is the one running (after `before`: its figures are not touched)
    const previous = await this.previousAnswers(d.rolloutId);
    // the engine's totals as the new model takes over: its crashes and restarts are counted from here
    let atSwitch = before;
    try {
      const { pullModelsIsolated } = await import('../catalog/pull-isolated.js');
      const report = await pullModelsIsolated({ ...c, models: { ...c.models, catalog: path } }, { deviceForms: true }, { log: (l) => this.i.log.info(l), signal: this.i.signal });
      if (!report.ok) throw new Error(`pull failed: ${report.items.filter((x) => x.error || x.convertError).map((x) => `${x.id}: ${x.error ?? x.convertError}`).join('; ')}`);
      // the same bytes, verified again by the loader (a file swapped on disk in between is refused)
      this.i.selection.useCatalog(await loadConfiguredCatalog({ models: { ...c.models, catalog: path }, stateDir: c.stateDir }));
      await this.i.selection.loadLadder();
      atSwitch = this.sample();
      const sel = await this.i.reselect(`rollout ${d.rolloutId}: catalog version ${d.catalogVersion}`);
      // from the moment the new model took over: the old one's crashes while the re-selection measured (minutes of
      // profiling on a busy board) are not the new model's
      const sw = this.i.engine().atSwitch;
      if (sel.switched && sw) atSwitch = { ...atSwitch, crashes: sw.crashes, restarts: sw.restarts };
      this.i.log.info('rollout: running the new catalog, proving it', { rollout: d.rolloutId, variant: sel.variant, seconds: c.fleet.provingSeconds });
    } catch (err) {
      let why = `could not switch: ${errorMessage(err).slice(0, 260)}`;
      try {
        await this.restoreLastGood();
      } catch (restoreErr) {
        this.i.log.error('rollout: going back to the last good catalog failed', { rollout: d.rolloutId, error: errorMessage(restoreErr) });
        why += `; going back to the last good catalog failed too: ${errorMessage(restoreErr).slice(0, 150)}`;
      } finally {
        this.taken = undefined;
      }
      this.baseline = this.sample();
      return refuse(why);
    }
    await this.report({ rolloutId: d.rolloutId, phase: 'proving', catalogVersion: d.catalogVersion });
    const start = this.sample();
    this.timer = setTimeout(() => this.queue(async () => {
      if (this.taken?.rolloutId !== d.rolloutId || this.i.stopped() || this.closing) return;
      const end = this.sample();
      const secs = (end.at - start.at) / 1000;
      // after `end`: the measurement's child does not count in the new model's figures
      const fid = await this.fidelity(d.rolloutId, previous);
      if (this.taken?.rolloutId !== d.rolloutId || this.i.stopped()) return;
      const health: DeviceHealth = {
        p90Ms: round(end.p90Ms), previousP90Ms: round(before.p90Ms), fps: round(secs > 0 ? (end.inferred - start.inferred) / secs : 0), previousFps,
        // differences of totals that survive the switch (each engine host counts from 0)
        crashes: end.crashes - atSwitch.crashes, restarts: end.restarts - atSwitch.restarts, fidelity: fid.fidelity, fidelityFrames: fid.fidelity === null ? 0 : fid.frames,
      };
      this.taken = { ...this.taken, phase: 'proven' };
      await this.report({ rolloutId: d.rolloutId, phase: 'proven', catalogVersion: d.catalogVersion, health });
      // the rollout may have completed already (this device restarted and took it again while it was retained)
      if (this.lastState) await this.onState(this.lastState);
    }), c.fleet.provingSeconds * 1000);
  }

  /**
   * The running (last good) model's answers on the probe frames (src/daemon/rollout-fidelity.ts), or undefined
   * when there are too few frames (said once per process) or the measurement failed (said each time).
   */
  private async previousAnswers(rolloutId: string): Promise<{ probe: ProbeSet; answers: Answers } | undefined> {
    const dir = probeDirOf(this.i.config);
    try {
      const probe = await loadProbeSet(dir);
      if (!probe || probe.files.length < MIN_FIDELITY_FRAMES) {
        if (!this.saidNoProbe) this.i.log.warn('rollout: fidelity is not measured (reported as null, not judged)', { probeDir: dir, frames: probe?.files.length ?? 0, needs: MIN_FIDELITY_FRAMES, fix: 'set profile.probeDir to a directory of photos, or let a real camera fill <stateDir>/probe-frames' });
        this.saidNoProbe = true;
        return undefined;
      }
      return { probe, answers: await answersOn(this.i.config, this.i.selection.choice, probe, this.i.signal) };
    } catch (err) {
      this.i.log.warn('rollout: fidelity not measured: the previous model could not be run on the probe frames', { rollout: rolloutId, error: errorMessage(err) });
      return undefined;
    }
  }
  private saidNoProbe = false;

  /** The running (new) model's answers on the frames the previous one answered, compared. */
  private async fidelity(rolloutId: string, previous: { probe: ProbeSet; answers: Answers } | undefined): Promise<Fidelity> {
    if (!previous) return { fidelity: null, frames: 0, agreeing: 0 };
    const variant = this.i.selection.choice.variant.id;
    try {
      const f = compareAnswers(previous.answers, await answersOn(this.i.config, this.i.selection.choice, previous.probe, this.i.signal));
      if (f.fidelity === null) this.i.log.warn('rollout: fidelity not measured', { rollout: rolloutId, why: f.why });
      else this.i.log.info('rollout: fidelity of the new model to the previous one on the probe frames', { rollout: rolloutId, variant, fidelity: f.fidelity, agreeing: f.agreeing, frames: f.frames });
      return f;
    } catch (err) {
      this.i.log.warn('rollout: fidelity not measured: the new model could not be run on the probe frames', { rollout: rolloutId, variant, error: errorMessage(err) });
      return { fidelity: null, frames: 0, agreeing: 0 };
    }
  }

  private async restoreLastGood(): Promise<void> {
    this.i.selection.useCatalog(undefined);
    await this.i.selection.loadLadder();
    await this.i.reselect('rollout: back to the last good catalog');
  }

  private async rollBack(d: RolloutDesired, why: string): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.taken = undefined;
    try { await this.restoreLastGood(); } catch (err) { this.i.log.error('rollback: re-selection failed', { error: errorMessage(err) }); }
    this.baseline = this.sample();
    this.i.log.warn('rollout: back on the last good catalog', { rollout: d.rolloutId, why });
    await this.report({ rolloutId: d.rolloutId, phase: 'rolled-back', catalogVersion: this.version, reason: why });
  }

  /** A completed rollout this device proved: its catalog becomes the device's catalog. */
  private async onState(payload: Buffer): Promise<void> {
    this.lastState = payload;
    const s = parseState(payload);
    const t = this.taken;
    if (!s || !t || s.rolloutId !== t.rolloutId || s.status !== 'completed' || t.phase !== 'proven') return;
    await installRolloutCatalog(this.i.config.stateDir, t.path, t.verified);
    this.version = t.verified.catalogVersion;
    this.taken = undefined;
    this.baseline = this.sample();
    this.i.log.info('rollout completed: the new catalog is installed', { rollout: s.rolloutId, catalogVersion: this.version });
    await this.report(this.last ? { ...this.last, catalogVersion: this.version } : undefined);
  }
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : 0;
}
