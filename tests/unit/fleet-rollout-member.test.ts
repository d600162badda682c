import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { AcceptedCatalogs, generateSigningKeys, installRolloutCatalog, loadConfiguredCatalog, loadPublicKey, signCatalog, verifyCatalog } from '../../src/catalog/signature.js';
import { FleetRolloutService } from '../../src/daemon/fleet-rollout.js';
import { EngineService, type LoadedModel } from '../../src/daemon/engine-service.js';
import { SelectionService } from '../../src/daemon/selection-service.js';
import type { MqttService } from '../../src/mqtt/service.js';
import type { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Choice } from '../../src/select/choose.js';
import type { SupervisedEngineStats } from '../../src/engine/engine.js';
import { cutoffFor, judgeHealth, parseMemberReport, rolloutTopics, DEFAULT_THRESHOLDS, ROLLOUT_FORMAT, type MemberReport, type RolloutDesired } from '../../src/mqtt/fleet-rollout.js';
import type { Logger } from '../../src/util/log.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A device's part in a rollout (src/daemon/fleet-rollout.ts), with the real FleetRolloutService, real signed
 * catalogs and state files, and the real pull in a child process (the catalogs hold no model: nothing is
 * downloaded); the engine, the pipeline and the selection are stand-ins whose figures the test sets.
 */
const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
const keys = generateSigningKeys();
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'edgefit-rollout-member-'));
  writeFileSync(join(work, 'pub.pem'), keys.publicPem);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** a signed catalog (no model) of `version`: its text and detached signature */
function release(version: number): { text: string; sig: string } {
  const text = JSON.stringify({ version: 1, catalogVersion: version, labels: [], models: [] }, null, 2);
  return { text, sig: JSON.stringify(signCatalog(Buffer.from(text), 'catalog.json', createPrivateKey(keys.privatePem))) };
}

function deviceConfig(name: string, provingSeconds = 1): Config {
  const stateDir = join(work, name);
  mkdirSync(stateDir, { recursive: true });
  // the catalog the device starts on (its last good one): version 1
  const v1 = release(1);
  writeFileSync(join(stateDir, 'catalog.json'), v1.text);
  writeFileSync(join(stateDir, 'catalog.json.sig'), v1.sig);
  return loadConfig({
    env: {}, host: { hostname: 't', isRoot: false, home: work },
    overrides: {
      deviceId: 'dev-1', stateDir, 'models.catalog': join(stateDir, 'catalog.json'), 'models.publicKey': join(work, 'pub.pem'),
      'mqtt.url': 'mqtt://127.0.0.1:1', 'fleet.group': 'lab', 'fleet.provingSeconds': provingSeconds,
    },
  }).config;
}

function desired(version: number, rolloutId: string, o: { rollback?: boolean } = {}): Buffer {
  const r = release(version);
  const d: RolloutDesired = {
    format: ROLLOUT_FORMAT, rolloutId, group: 'lab', catalogVersion: version, catalogSha256: 'x', catalog: r.text, signature: r.sig,
    cutoff: o.rollback ? '' : cutoffFor(rolloutId, ['dev-1'], 1), stage: 0, rollback: !!o.rollback, ts: new Date().toISOString(),
  };
  return Buffer.from(JSON.stringify(d));
}

const stats = (s: Partial<SupervisedEngineStats> = {}): SupervisedEngineStats => ({ runs: 0, timeouts: 0, crashes: 0, restarts: 0, degraded: false, ...s });
const model = (s: SupervisedEngineStats): LoadedModel => ({ variantId: 'm', resolution: 96, labels: undefined, engine: { stats: s, close: async () => undefined } } as unknown as LoadedModel);

/** A member on a stand-in broker: the desired messages the test hands it, the reports it publishes. */
function member(c: Config, o: { pipeline: () => Pipeline; engine: EngineService; reselect: () => Promise<{ variant: string; switched: boolean }>; loadLadder?: () => Promise<void> }) {
  const reports: MemberReport[] = [];
  const t = rolloutTopics(c.mqtt.prefix, 'lab');
  let onDesired: ((p: Buffer) => void) | undefined;
  const mqtt = {
    on: () => undefined,
    publishFleet: async (_topic: string, payload: string) => { reports.push(JSON.parse(payload) as MemberReport); },
    watch: async (topic: string, h: (p: Buffer) => void) => { if (topic === t.desired) onDesired = h; },
  } as unknown as MqttService;
  const selection = { useCatalog: () => undefined, loadLadder: o.loadLadder ?? (async () => undefined), choice: { variant: { id: 'm' } } } as unknown as SelectionService;
  const svc = new FleetRolloutService({
    config: c, log, signal: new AbortController().signal, stopped: () => false, board: () => 'test-board', mqtt: () => mqtt,
    selection, reselect: o.reselect, pipeline: o.pipeline,
    // as src/daemon.ts wires it
    engine: () => o.engine.health,
  });
  return { svc, reports, desire: (p: Buffer) => onDesired!(p), rollout: (phase: string) => reports.find((r) => r.rollout?.phase === phase)?.rollout };
}

const engineService = (c: Config) => new EngineService({ config: c, log, choice: () => { throw new Error('not loaded here'); }, mqtt: () => undefined });
/** a pipeline whose figures stay put: the crash and install cases do not judge latency */
const steadyPipeline = () => ({ infer: { percentiles: () => ({ p50: 40, p90: 40, p99: 40, n: 50 }) }, stats: () => ({ inferred: 0 }) }) as unknown as Pipeline;

describe('a device in a rollout (the real FleetRolloutService, real catalogs and state files)', () => {
  it('a new model that crashes is reported with its crashes, though each switch starts an engine host whose counts begin at 0', async () => {
    const c = deviceConfig('crash');
    const engine = engineService(c);
    // the last good model crashed twice and was restarted twice, long ago (a camera glitch yesterday)
    engine.current = model(stats({ runs: 5000, crashes: 2, restarts: 2 }));
    const m = member(c, {
      engine, pipeline: steadyPipeline,
      reselect: async () => {
        // the switch: a new engine host (counts from 0) for the new model, which crashes on its first frame
        const fresh = stats();
        engine.current = model(fresh);
        fresh.crashes = 1; fresh.restarts = 1;
        return { variant: 'm-new', switched: true };
      },
    });
    await m.svc.start();
    try {
      m.desire(desired(2, 'v2-crash'));
      const proven = await waitFor(() => m.rollout('proven'), 'the proven report', 60_000);
      expect(proven.health).toMatchObject({ crashes: 1, restarts: 1 });
      // the controller reads the report (a negative count would be refused as out of bounds) and halts on it
      const report = m.reports.find((r) => r.rollout?.phase === 'proven')!;
      expect(parseMemberReport(Buffer.from(JSON.stringify(report)), 'dev-1', 'lab')).toBeDefined();
      expect(judgeHealth(proven.health!, DEFAULT_THRESHOLDS)).toEqual({ healthy: false, reason: '1 crash(es) and 1 restart(s) while proving (at most 0)' });
    } finally {
      await m.svc.stop();
    }
  }, 90_000);

  it('the old model\'s crashes while the re-selection measures are not the new model\'s', async () => {
    const c = deviceConfig('old-crash');
    const engine = engineService(c);
    const old = stats({ runs: 100 });
    engine.current = model(old);
    const m = member(c, {
      engine, pipeline: steadyPipeline,
      reselect: async () => {
        // minutes of profiling on a busy board: the old model, still running, times out and restarts
        old.crashes += 1; old.restarts += 1;
        engine.current = model(stats());
        return { variant: 'm-new', switched: true };
      },
    });
    await m.svc.start();
    try {
      m.desire(desired(2, 'v2-old-crash'));
      const proven = await waitFor(() => m.rollout('proven'), 'the proven report', 60_000);
      expect(proven.health).toMatchObject({ crashes: 0, restarts: 0 });
    } finally {
      await m.svc.stop();
    }
  }, 90_000);

  it('after a restart, the retained desired catalog waits for the last good model\'s own figures: a 3x slower model is judged, not waved through', async () => {
    const c = deviceConfig('restart', 1);
    const engine = engineService(c);
    engine.current = model(stats());
    // the daemon has just started (empty inference window): the last good model infers 10 frames a second at
    // 40 ms; the new one 10 frames every 3 seconds at 120 ms. Frame counts follow the clock, whatever the load.
    const t0 = Date.now();
    let switchedAt = 0;
    const counts = () => {
      const now = Date.now();
      const old = Math.floor(((switchedAt || now) - t0) / 100);
      const fresh = switchedAt ? Math.floor((now - switchedAt) / 300) : 0;
      // the window holds the running model's frames only (a swap clears it)
      return { inferred: old + fresh, window: switchedAt ? fresh : old };
    };
    const pipeline = {
      infer: { percentiles: () => { const n = counts().window; const v = switchedAt ? 120 : 40; return n > 0 ? { p50: v, p90: v, p99: v, n } : { p50: 0, p90: 0, p99: 0, n: 0 }; } },
      stats: () => ({ inferred: counts().inferred }),
    } as unknown as Pipeline;
    const m = member(c, { engine, pipeline: () => pipeline, reselect: async () => { switchedAt = Date.now(); return { variant: 'm-slow', switched: true }; } });
    await m.svc.start();
    try {
      // the retained desired message arrives as the service subscribes, a moment after the start
      m.desire(desired(2, 'v2-slow'));
      const proven = await waitFor(() => m.rollout('proven'), 'the proven report', 60_000);
      const h = proven.health!;
      // the last good model's figures were measured (never 0, the value the gate cannot judge)
      expect(h.previousP90Ms).toBe(40);
      expect(h.previousFps).toBeGreaterThan(5);
      expect(h.p90Ms).toBe(120);
      expect(judgeHealth(h, DEFAULT_THRESHOLDS).healthy).toBe(false);
    } finally {
      await m.svc.stop();
    }
  }, 90_000);

  it('a switch that fails, and whose way back fails too, is still reported refused, with both reasons; the rollout is let go', async () => {
    const c = deviceConfig('restore');
    const engine = engineService(c);
    engine.current = model(stats());
    let ladders = 0;
    let reselects = 0;
    const m = member(c, {
      engine, pipeline: steadyPipeline,
      // the new catalog's ladder loads; the last good one's (the way back) does not
      loadLadder: async () => { if (++ladders > 1) throw new Error('the last good catalog cannot be read'); },
      reselect: async () => { reselects++; throw new Error('the new model cannot be loaded'); },
    });
    await m.svc.start();
    m.desire(desired(2, 'v2-broken'));
    const refused = await waitFor(() => m.rollout('refused'), 'the refused report', 60_000);
    expect(refused.reason).toMatch(/^could not switch: the new model cannot be loaded; going back to the last good catalog failed too: the last good catalog cannot be read$/);
    // the rollout is no longer held as taken: its rollback has nothing to roll back here
    m.desire(desired(2, 'v2-broken', { rollback: true }));
    await m.svc.stop();
    expect(m.rollout('rolled-back')).toBeUndefined();
    expect(reselects).toBe(1);
  }, 90_000);

  it('installing a completed rollout writes active.json before the replay guard: a failure between them never leaves a device that cannot start', async () => {
    const c = deviceConfig('install');
    const key = loadPublicKey(c.models.publicKey);
    const start = () => loadConfiguredCatalog({ models: c.models, stateDir: c.stateDir });
    // the device runs version 1 (the replay guard holds it) and proved version 2
    expect((await start()).verified?.catalogVersion).toBe(1);
    const v2 = release(2);
    const path = join(c.stateDir, 'rollout', 'catalog-v2.json');
    mkdirSync(join(c.stateDir, 'rollout'), { recursive: true });
    writeFileSync(path, v2.text);
    writeFileSync(`${path}.sig`, v2.sig);
    const verified = verifyCatalog(Buffer.from(v2.text), path, key);
    const accepted = new AcceptedCatalogs(c.stateDir);
    const guard = readFileSync(accepted.path, 'utf8');
    const active = join(c.stateDir, 'rollout', 'active.json');

    // active.json cannot be written (a full disk, a power cut): the guard must not have been raised already
    mkdirSync(active);
    await expect(installRolloutCatalog(c.stateDir, path, verified)).rejects.toThrow();
    rmSync(active, { recursive: true });
    // the next start comes back on the last good catalog, which the guard still takes
    expect((await start()).verified?.catalogVersion).toBe(1);
    expect(accepted.read()?.catalogVersion).toBe(1);

    // the guard cannot be written after active.json was: the next start loads version 2 and raises the guard itself
    rmSync(accepted.path);
    mkdirSync(accepted.path);
    await expect(installRolloutCatalog(c.stateDir, path, verified)).rejects.toThrow();
    rmSync(accepted.path, { recursive: true });
    writeFileSync(accepted.path, guard);
    expect((await start()).verified?.catalogVersion).toBe(2);
    expect(accepted.read()?.catalogVersion).toBe(2);
    // and later starts too
    expect((await start()).verified?.catalogVersion).toBe(2);
  });
});

describe('a rollout that keeps a model\'s id', () => {
  it('switches when the variant\'s weights or labels changed under the same id (and back on the rollback)', async () => {
    const c = deviceConfig('same-id');
    const loads: string[] = [];
    const selection = new SelectionService({
      config: c, log, signal: new AbortController().signal, stopped: () => false, mqtt: () => undefined, throttled: () => false, source: () => ({}) as never,
      engine: { load: async (ch: Choice) => { loads.push(`${ch.variant.modelPath} ${ch.variant.labelsPath}`); return { engine: { close: async () => undefined } }; }, current: undefined } as unknown as EngineService,
      pipeline: () => ({ prepare: () => ({}), swap: async () => ({ engine: { close: async () => undefined } }) }) as unknown as Pipeline,
    });
    const choice = (sha: string, labels: string): Choice => ({ variant: { id: 'mobilenet_v2', sha256: sha, modelPath: `/state/converted/${sha}.onnx`, labelsPath: `/state/${labels}`, resolution: 224 }, provider: 'cpu', threads: 4, candidates: [] } as unknown as Choice);
    let next = choice('aaa', 'labels-v1.txt');
    const internals = selection as unknown as { device: unknown; choice: Choice; select: () => Promise<Choice>; publishModel: () => Promise<void> };
    internals.device = { board: { kind: 'x' }, providers: { usable: ['cpu'] }, memory: { effectiveMb: 4000 }, cpu: { cores: 4 } };
    internals.choice = next;
    internals.select = async () => next;
    internals.publishModel = async () => undefined;
    // the same variant, the same file, the same labels: nothing to load
    expect(await selection.reselect('again')).toEqual({ variant: 'mobilenet_v2', switched: false });
    // catalog v2 re-quantizes the model under its id
    next = choice('bbb', 'labels-v1.txt');
    expect(await selection.reselect('rollout: catalog version 2')).toEqual({ variant: 'mobilenet_v2', switched: true });
    // catalog v3 ships new labels for the same weights
    next = choice('bbb', 'labels-v3.txt');
    expect(await selection.reselect('rollout: catalog version 3')).toEqual({ variant: 'mobilenet_v2', switched: true });
    // the rollback to the last good catalog
    next = choice('aaa', 'labels-v1.txt');
    expect(await selection.reselect('rollout: back to the last good catalog')).toEqual({ variant: 'mobilenet_v2', switched: true });
    expect(loads).toEqual(['/state/converted/bbb.onnx /state/labels-v1.txt', '/state/converted/bbb.onnx /state/labels-v3.txt', '/state/converted/aaa.onnx /state/labels-v1.txt']);
  });
});
