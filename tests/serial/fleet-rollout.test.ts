import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createPublicKey, createPrivateKey, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Mosquitto } from '../helpers/mosquitto.js';
import { projectRoot } from '../../src/util/paths.js';
import { defaultCatalogPath } from '../../src/catalog/catalog.js';
import { generateSigningKeys, signCatalog } from '../../src/catalog/signature.js';
import { runRollout, controlRollout, rolloutStatus } from '../../src/mqtt/fleet-rollout-controller.js';
import { DEFAULT_THRESHOLDS, type RolloutState } from '../../src/mqtt/fleet-rollout.js';
import { EdgefitError } from '../../src/util/errors.js';
import { startVirtualGroup, type VirtualDeviceSpec, type VirtualRolloutDevice, type VirtualHealth } from '../../scripts/fleet-sim-rollout.js';
import { waitFor } from '../helpers/wait.js';

const keys = generateSigningKeys();
const publicKey = createPublicKey(keys.publicPem);

function release(version: number): { text: string; sig: string; sha: string } {
  const data = JSON.parse(readFileSync(defaultCatalogPath, 'utf8')) as Record<string, unknown>;
  const text = JSON.stringify({ ...data, catalogVersion: version }, null, 2);
  const sig = JSON.stringify(signCatalog(Buffer.from(text), 'catalog.json', createPrivateKey(keys.privatePem)));
  return { text, sig, sha: createHash('sha256').update(text).digest('hex') };
}

const BOARDS = ['raspberry-pi-4', 'raspberry-pi-5', 'jetson-orin'];
const healthy: VirtualHealth = { p90Ms: 40, fps: 10, p90Factor: 1.05, fpsFactor: 1, crashes: 0, fidelity: 0.95 };

/**
 * Issue 19, staged rollouts, with the fleet simulator's virtual devices through a real mosquitto: a good rollout,
 * one halted by a latency regression on one board type, an aborted one (from another process), a device offline
 * in its stage, a catalog whose signature is over other bytes, a replayed version, a group with no devices.
 * After every rollout that does not complete, every device runs the catalog it ran before: nothing half-switched.
 */
describe('staged rollouts with virtual devices (real mosquitto)', () => {
  let broker: Mosquitto;
  const clients: MqttClient[] = [];
  const groups: VirtualRolloutDevice[][] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    for (let i = 0; i < 4; i++) clients.push(await mqtt.connectAsync(broker.url, { protocolVersion: 5 }));
  });
  afterAll(async () => {
    for (const g of groups) for (const d of g) d.stop();
    for (const c of clients) await c.endAsync();
    await broker?.stop();
  });

  async function group(name: string, n: number, o: { health?: (board: string, i: number) => VirtualHealth; provingMs?: number; offline?: number[] } = {}): Promise<VirtualRolloutDevice[]> {
    const specs: VirtualDeviceSpec[] = Array.from({ length: n }, (_, i) => ({
      deviceId: `${name}-dev-${String(i).padStart(2, '0')}`, board: BOARDS[i % BOARDS.length]!, group: name, prefix: 'edgefit', catalogVersion: 1, publicKey,
      health: o.health?.(BOARDS[i % BOARDS.length]!, i) ?? healthy, provingMs: o.provingMs ?? 150, offline: o.offline?.includes(i) ?? false,
    }));
    const g = await startVirtualGroup(clients, specs);
    groups.push(g);
    return g;
  }

  const run = (name: string, r: { text: string; sig: string; sha: string }, version: number, extra: Partial<Parameters<typeof runRollout>[0]> = {}) => runRollout({
    url: broker.url, prefix: 'edgefit', group: name, catalogText: r.text, signatureText: r.sig, catalogVersion: version, catalogSha256: r.sha,
    canary: 0.1, thresholds: { ...DEFAULT_THRESHOLDS, stageTimeoutSeconds: 60 }, tickMs: 50, membersWaitMs: 2000, ...extra,
  });

  const backOnV1 = (g: VirtualRolloutDevice[]) => {
    for (const d of g) expect(d.running.catalogVersion, JSON.stringify(d.running)).toBe(1);
  };

  it('a good rollout goes 10% -> 50% -> 100% and every device runs the new catalog', async () => {
    const g = await group('good', 20);
    const seen: RolloutState[] = [];
    const final = await run('good', release(2), 2, { onState: (s) => seen.push(s) });
    expect(final.status, final.message).toBe('completed');
    expect(final.stages).toEqual([0.1, 0.5, 1]);
    expect(final.results.map((r) => [r.devices, r.healthy.length, r.unhealthy.length])).toEqual([[2, 2, 0], [10, 10, 0], [20, 20, 0]]);
    // the stages came one after the other
    expect([...new Set(seen.map((s) => s.stage))]).toEqual([0, 1, 2]);
    for (const d of g) expect(d.running).toMatchObject({ catalogVersion: 2, phase: 'proven' });
    const st = await rolloutStatus({ url: broker.url, prefix: 'edgefit', group: 'good' });
    expect(st.state?.status).toBe('completed');
  });

  it('a latency regression on one board type halts the rollout and rolls every switched device back', async () => {
    const g = await group('regress', 20, { health: (board) => (board === 'raspberry-pi-4' ? { ...healthy, p90Factor: 1.6 } : healthy) });
    const final = await run('regress', release(2), 2);
    expect(final.status).toBe('halted');
    const bad = final.results.at(-1)!.unhealthy;
    expect(bad.length).toBeGreaterThan(0);
    for (const u of bad) {
      expect(u.reason).toMatch(/p90 64\.0 ms > 1\.25x its previous 40\.0 ms/);
      expect(g.find((d) => (d as unknown as { s: VirtualDeviceSpec }).s.deviceId === u.deviceId)).toBeDefined();
      expect(Number(u.deviceId.slice(-2)) % 3).toBe(0); // raspberry-pi-4 devices only
    }
    expect(final.message).toMatch(/every device is back on its last good catalog/);
    backOnV1(g);
    expect(g.filter((d) => d.running.rolloutId !== undefined).every((d) => d.running.phase === 'rolled-back')).toBe(true);
  });

  it('abort from another process stops the rollout and rolls back; nothing stays half-switched', async () => {
    const g = await group('abort', 10, { provingMs: 600_000 });
    const p = run('abort', release(2), 2);
    await waitFor(() => g.some((d) => d.running.phase === 'proving'), 'a canary device proving', 30_000);
    const r = spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'rollout', 'abort', '--group', 'abort', '--broker', broker.url], { encoding: 'utf8', env: { ...process.env, EDGEFIT_CONFIG: '' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/abort sent to its controller/);
    const final = await p;
    expect(final.status).toBe('aborted');
    backOnV1(g);
    const status = spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'rollout', 'status', '--group', 'abort', '--broker', broker.url, '--json'], { encoding: 'utf8', env: { ...process.env, EDGEFIT_CONFIG: '' } });
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'aborted', controllerAlive: false });
  });

  it('a device offline during its stage counts as not healthy after the stage timeout', async () => {
    const g = await group('offline', 5, { offline: [3] });
    const final = await run('offline', release(2), 2, { canary: 1, thresholds: { ...DEFAULT_THRESHOLDS, stageTimeoutSeconds: 2 } });
    expect(final.status).toBe('halted');
    expect(final.results[0]!.unhealthy).toEqual([{ deviceId: 'offline-dev-03', reason: 'no health report within 2 s (offline?)' }]);
    backOnV1(g);
  });

  it('a signature over a different catalog is refused by every device; the rollout halts', async () => {
    const g = await group('forged', 4);
    const r = release(3);
    const forged = { ...r, text: r.text.replace('"catalogVersion": 3', '"catalogVersion": 3, "injected": true') };
    const final = await run('forged', forged, 3, { canary: 1 });
    expect(final.status).toBe('halted');
    for (const u of final.results[0]!.unhealthy) expect(u.reason).toMatch(/refused the catalog: .*made over a different catalog/);
    backOnV1(g);
  });

  it('refused before anything is published: a replayed (not newer) version, a group with no devices', async () => {
    await group('replay', 3);
    const e1 = await run('replay', release(1), 1).then(() => undefined, (e: unknown) => e);
    expect(e1).toBeInstanceOf(EdgefitError);
    expect((e1 as EdgefitError).code).toBe('E_CATALOG_REPLAY');
    const e2 = await run('nobody', release(2), 2, { membersWaitMs: 500 }).then(() => undefined, (e: unknown) => e);
    expect((e2 as EdgefitError).code).toBe('E_ROLLOUT_EMPTY');
    const cli = spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'rollout', 'pause', '--group', 'nobody', '--broker', broker.url], { encoding: 'utf8', env: { ...process.env, EDGEFIT_CONFIG: '' } });
    expect(cli.status).not.toBe(0);
    expect(cli.stderr).toMatch(/has no rollout/);
    await expect(controlRollout({ url: broker.url, prefix: 'edgefit', group: 'nobody' }, 'abort')).rejects.toThrow(/no rollout/);
  });
});
