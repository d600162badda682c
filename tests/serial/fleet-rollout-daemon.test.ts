import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { DaemonProcess, pulledState, copyState, fastProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sharedData } from '../../src/util/paths.js';
import { defaultCatalogPath } from '../../src/catalog/catalog.js';
import { generateSigningKeys, signCatalog } from '../../src/catalog/signature.js';
import { runRollout } from '../../src/mqtt/fleet-rollout-controller.js';
import { DEFAULT_THRESHOLDS, type MemberReport } from '../../src/mqtt/fleet-rollout.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 19, a real daemon in a rollout group: it takes a signed catalog through a rollout (verify, pull in a
 * child, select, switch, prove, report health), installs it when the rollout completes, and goes back to its
 * last good catalog when a later rollout halts.
 */
describe('a real daemon takes part in rollouts (real mosquitto)', () => {
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let sub: MqttClient;
  let state: string;
  const keys = generateSigningKeys();
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-rollout-'));
  const reports: MemberReport[] = [];

  const release = (version: number) => {
    const data = JSON.parse(readFileSync(defaultCatalogPath, 'utf8')) as Record<string, unknown>;
    const text = JSON.stringify({ ...data, catalogVersion: version }, null, 2);
    const sig = JSON.stringify(signCatalog(Buffer.from(text), 'catalog.json', createPrivateKey(keys.privatePem)));
    return { text, sig, sha: createHash('sha256').update(text).digest('hex') };
  };

  beforeAll(async () => {
    state = copyState(await pulledState(['mobilenet_v1-0.25-128-int8']));
    broker = await Mosquitto.start();
    const v1 = release(1);
    writeFileSync(join(dir, 'catalog.json'), v1.text);
    writeFileSync(join(dir, 'catalog.json.sig'), v1.sig);
    writeFileSync(join(dir, 'pub.pem'), keys.publicPem);
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    sub.on('message', (_t, p) => reports.push(JSON.parse(p.toString()) as MemberReport));
    await sub.subscribeAsync('edgefit/fleet/groups/lab/+', { qos: 1 });
    daemon = new DaemonProcess([
      '--broker', broker.url, '--device-id', 'lab-1', '--state-dir', state, '--camera', `folder:${join(sharedData, 'images/test')}`, '--set', 'camera.fps=5',
      '--set', `models.catalog=${join(dir, 'catalog.json')}`, '--set', `models.publicKey=${join(dir, 'pub.pem')}`, '--set', `models.mirror=${sharedData}`,
      '--set', 'fleet.group=lab', '--set', 'fleet.provingSeconds=2', ...fastProfile,
    ]);
    await waitFor(() => reports.some((r) => r.deviceId === 'lab-1' && r.catalogVersion === 1), 'the membership report', 180_000);
  }, 240_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await sub?.endAsync();
    await broker?.stop();
  });

  const run = (version: number, thresholds = DEFAULT_THRESHOLDS) => {
    const r = release(version);
    return runRollout({ url: broker.url, prefix: 'edgefit', group: 'lab', catalogText: r.text, signatureText: r.sig, catalogVersion: version, catalogSha256: r.sha, canary: 1, thresholds: { ...thresholds, stageTimeoutSeconds: 120 }, tickMs: 100 });
  };

  it('a good rollout: the device verifies, pulls, switches, proves itself, reports its health and installs the catalog', async () => {
    // live latency on a loaded machine is not this test's subject (the gate is unit-tested): only crashes count
    const final = await run(2, { ...DEFAULT_THRESHOLDS, maxP90Ratio: 100, minFpsRatio: 0 });
    expect(final.status, `${final.message}\n${daemon.stderr.slice(-3000)}`).toBe('completed');
    const proven = reports.find((r) => r.rollout?.phase === 'proven' && r.rollout.rolloutId === final.rolloutId)!;
    expect(proven.rollout!.health).toMatchObject({ crashes: 0, restarts: 0, fidelity: null });
    expect(proven.rollout!.health!.fps).toBeGreaterThan(0);
    await waitFor(() => reports.some((r) => r.catalogVersion === 2), 'the device installing version 2', 30_000);
    const accepted = JSON.parse(readFileSync(join(state, 'catalog-accepted.json'), 'utf8')) as { catalogVersion: number };
    expect(accepted.catalogVersion).toBe(2);
    expect(JSON.parse(readFileSync(join(state, 'rollout', 'active.json'), 'utf8'))).toMatchObject({ catalogVersion: 2 });
    expect(daemon.stderr).toMatch(/rollout completed: the new catalog is installed/);
  }, 300_000);

  it('a halted rollout puts the last good catalog back; the replay guard still holds the installed version', async () => {
    // a gate no device can meet (no crash or restart allowed below zero): the stage halts deterministically
    const final = await run(3, { ...DEFAULT_THRESHOLDS, maxCrashes: -1 });
    expect(final.status).toBe('halted');
    await waitFor(() => reports.some((r) => r.rollout?.rolloutId === final.rolloutId && r.rollout.phase === 'rolled-back'), 'the rollback report', 60_000);
    const last = reports.filter((r) => r.deviceId === 'lab-1').at(-1)!;
    expect(last.catalogVersion).toBe(2);
    expect(JSON.parse(readFileSync(join(state, 'catalog-accepted.json'), 'utf8'))).toMatchObject({ catalogVersion: 2 });
    expect(existsSync(join(state, 'rollout', 'catalog-v3.json'))).toBe(true);
    expect(daemon.stderr).toMatch(/back on the last good catalog/);
    // a replay of version 2 is refused before anything is published
    await expect(run(2)).rejects.toThrow(/not newer than version 2/);
  }, 300_000);
});
