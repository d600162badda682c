import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { DaemonProcess, pulledState, fewRunsProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sharedData } from '../../src/util/paths.js';
import { defaultCatalogPath } from '../../src/catalog/catalog.js';
import { generateSigningKeys, signCatalog } from '../../src/catalog/signature.js';
import { runRollout } from '../../src/mqtt/fleet-rollout-controller.js';
import { DEFAULT_THRESHOLDS, type MemberReport } from '../../src/mqtt/fleet-rollout.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 19, a real daemon in a rollout group: it takes a signed catalog through a rollout (verify, pull in a
 * child, select, switch, prove, report health with its fidelity measured on probe photos), installs it when the
 * rollout completes, and goes back to its last good catalog when a later rollout halts on the fidelity gate.
 */
describe('a real daemon takes part in rollouts (real mosquitto)', () => {
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let sub: MqttClient;
  let state: string;
  const keys = generateSigningKeys();
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-rollout-'));
  const reports: MemberReport[] = [];

  // the model the device runs: a rollout's catalog holds it alone, so the new model is known (and no other is pulled)
  const MODEL = 'mobilenet_v1-0.25-128-int8';
  /**
   * The shipped catalog, version `version`, with only MODEL; `reversedLabels`: MODEL names its classes with the
   * ImageNet list reversed (background kept first), the mistake fidelity is there to catch: the same top-1
   * index on every frame, a different label on every frame.
   */
  const release = (version: number, o: { reversedLabels?: boolean } = {}) => {
    const data = JSON.parse(readFileSync(defaultCatalogPath, 'utf8')) as { models: { id: string; labels?: string }[]; labels: { id: string }[] } & Record<string, unknown>;
    let models = data.models.filter((m) => m.id === MODEL);
    const labels = [...data.labels];
    if (o.reversedLabels) {
      const [bg, ...names] = readFileSync(join(sharedData, 'labels/imagenet_labels_1001_coral.txt'), 'utf8').trimEnd().split('\n');
      const text = `${[bg, ...names.reverse()].join('\n')}\n`;
      labels.push({ id: 'imagenet-reversed', file: 'labels/imagenet_labels_reversed.txt', sha256: createHash('sha256').update(text).digest('hex'), size: Buffer.byteLength(text), urls: [], text } as { id: string });
      models = models.map((m) => ({ ...m, labels: 'imagenet-reversed' }));
    }
    const text = JSON.stringify({ ...data, models, labels, catalogVersion: version }, null, 2);
    const sig = JSON.stringify(signCatalog(Buffer.from(text), 'catalog.json', createPrivateKey(keys.privatePem)));
    return { text, sig, sha: createHash('sha256').update(text).digest('hex') };
  };

  beforeAll(async () => {
    state = await pulledState(['mobilenet_v1-0.25-128-int8']);
    broker = await Mosquitto.start();
    // the catalog the daemon starts on is the shipped one (its other models are not pulled: it runs MODEL)
    const v1 = (() => {
      const text = JSON.stringify({ ...(JSON.parse(readFileSync(defaultCatalogPath, 'utf8')) as object), catalogVersion: 1 }, null, 2);
      return { text, sig: JSON.stringify(signCatalog(Buffer.from(text), 'catalog.json', createPrivateKey(keys.privatePem))) };
    })();
    writeFileSync(join(dir, 'catalog.json'), v1.text);
    writeFileSync(join(dir, 'catalog.json.sig'), v1.sig);
    writeFileSync(join(dir, 'pub.pem'), keys.publicPem);
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    sub.on('message', (_t, p) => reports.push(JSON.parse(p.toString()) as MemberReport));
    await sub.subscribeAsync('edgefit/fleet/groups/lab/+', { qos: 1 });
    daemon = new DaemonProcess([
      '--broker', broker.url, '--device-id', 'lab-1', '--state-dir', state, '--camera', `folder:${join(sharedData, 'images/test')}`, '--set', 'camera.fps=5',
      '--set', `models.catalog=${join(dir, 'catalog.json')}`, '--set', `models.publicKey=${join(dir, 'pub.pem')}`, '--set', `models.mirror=${sharedData}`,
      // probe frames: real photos other than the camera's, for the fidelity of a rollout's model to the last good one
      '--set', `profile.probeDir=${join(sharedData, 'images/calib')}`,
      '--set', 'fleet.group=lab', '--set', 'fleet.provingSeconds=2', ...fewRunsProfile,
    ]);
    await waitFor(() => reports.some((r) => r.deviceId === 'lab-1' && r.catalogVersion === 1), 'the membership report', 180_000);
  }, 240_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await sub?.endAsync();
    await broker?.stop();
  });

  const run = (version: number, thresholds = DEFAULT_THRESHOLDS, o: { reversedLabels?: boolean } = {}) => {
    const r = release(version, o);
    return runRollout({ url: broker.url, prefix: 'edgefit', group: 'lab', catalogText: r.text, signatureText: r.sig, catalogVersion: version, catalogSha256: r.sha, canary: 1, thresholds: { ...thresholds, stageTimeoutSeconds: 120 }, tickMs: 100 });
  };

  it('a good rollout: the device verifies, pulls, switches, proves itself, reports its health and installs the catalog', async () => {
    // live latency on a loaded machine is not this test's subject (the gate is unit-tested): only crashes count
    const final = await run(2, { ...DEFAULT_THRESHOLDS, maxP90Ratio: 100, minFpsRatio: 0 });
    expect(final.status, `${final.message}\n${daemon.stderr.slice(-3000)}`).toBe('completed');
    const proven = reports.find((r) => r.rollout?.phase === 'proven' && r.rollout.rolloutId === final.rolloutId)!;
    // the same model on the same 9 probe photos: every answer the same
    expect(proven.rollout!.health).toMatchObject({ crashes: 0, restarts: 0, fidelity: 1, fidelityFrames: 9 });
    expect(daemon.stderr).toMatch(/rollout: fidelity of the new model to the previous one on the probe frames/);
    expect(proven.rollout!.health!.fps).toBeGreaterThan(0);
    await waitFor(() => reports.some((r) => r.catalogVersion === 2), 'the device installing version 2', 30_000);
    const accepted = JSON.parse(readFileSync(join(state, 'catalog-accepted.json'), 'utf8')) as { catalogVersion: number };
    expect(accepted.catalogVersion).toBe(2);
    expect(JSON.parse(readFileSync(join(state, 'rollout', 'active.json'), 'utf8'))).toMatchObject({ catalogVersion: 2 });
    expect(daemon.stderr).toMatch(/rollout completed: the new catalog is installed/);
  }, 300_000);

  it('a rollout whose model answers otherwise on the probe frames halts on fidelity and puts the last good catalog back; the replay guard still holds the installed version', async () => {
    // the default --min-fidelity (0.8) judges the device's measured fidelity: its labels reversed, no answer agrees
    const final = await run(3, { ...DEFAULT_THRESHOLDS, maxP90Ratio: 100, minFpsRatio: 0 }, { reversedLabels: true });
    expect(final.status, `${final.message}\n${daemon.stderr.slice(-3000)}`).toBe('halted');
    expect(final.results.at(-1)!.unhealthy).toEqual([{ deviceId: 'lab-1', reason: 'fidelity 0% < 80% on its 9 probe frames' }]);
    const proven = reports.find((r) => r.rollout?.phase === 'proven' && r.rollout.rolloutId === final.rolloutId)!;
    expect(proven.rollout!.health).toMatchObject({ crashes: 0, restarts: 0, fidelity: 0, fidelityFrames: 9 });
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
