/**
 * Virtual devices that take part in rollouts, for the fleet simulator and the rollout tests. Each one does what
 * a device does, through the broker: it publishes its membership (retained), reads the group's desired catalog,
 * and when its rank is in the stage it verifies the catalog's Ed25519 signature (node:crypto, the daemon's own
 * code) and its version (replays are refused), switches while keeping its last good catalog, proves itself for a
 * while and reports its health; on a rollback it goes back to the last good catalog and says so. Its health on
 * the new catalog is configurable per board (a latency regression on one board type), and a device can be
 * offline (it never answers).
 */
import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { verifyCatalog } from '../src/catalog/signature.js';
import {
  inStage, parseDesired, rolloutTopics, ROLLOUT_FORMAT, type DeviceHealth, type MemberReport, type RolloutDesired, type RolloutPhase,
} from '../src/mqtt/fleet-rollout.js';
import { errorMessage } from '../src/util/errors.js';

export interface VirtualHealth {
  /** p90 on the current catalog, ms */
  p90Ms: number;
  fps: number;
  /** the new catalog's p90 is this times the old one */
  p90Factor: number;
  fpsFactor: number;
  crashes: number;
  fidelity: number | null;
}

export interface VirtualDeviceSpec {
  deviceId: string;
  board: string;
  group: string;
  prefix: string;
  /** the catalog version it runs at the start */
  catalogVersion: number;
  publicKey: KeyObject;
  health: VirtualHealth;
  /** how long it runs the new catalog before reporting its health */
  provingMs: number;
  /** never answers a desired catalog (powered off during its stage) */
  offline?: boolean;
}

/** What the virtual device runs, for the test's "nothing is left half-switched". */
export interface VirtualRunning { catalogVersion: number; lastGood: number; rolloutId?: string; phase?: RolloutPhase }

export class VirtualRolloutDevice {
  running: VirtualRunning;
  private timer: NodeJS.Timeout | undefined;
  private readonly t;
  private report: MemberReport;

  constructor(private readonly s: VirtualDeviceSpec, private readonly client: MqttClient) {
    this.t = rolloutTopics(s.prefix, s.group);
    this.running = { catalogVersion: s.catalogVersion, lastGood: s.catalogVersion };
    this.report = { format: ROLLOUT_FORMAT, deviceId: s.deviceId, group: s.group, board: s.board, catalogVersion: s.catalogVersion, ts: new Date().toISOString() };
  }

  /** Publishes the membership; `listen` is called by the owner for each desired message (one subscription per client). */
  async start(): Promise<void> {
    await this.publish();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private async publish(rollout?: MemberReport['rollout']): Promise<void> {
    this.report = { ...this.report, catalogVersion: this.running.catalogVersion, ts: new Date().toISOString(), ...(rollout ? { rollout } : {}) };
    if (rollout) this.running = { ...this.running, rolloutId: rollout.rolloutId, phase: rollout.phase };
    await this.client.publishAsync(this.t.member(this.s.deviceId), JSON.stringify(this.report), { qos: 1, retain: true });
  }

  /** The group's desired catalog changed. */
  async onDesired(payload: Buffer): Promise<void> {
    if (this.s.offline) return;
    const d = parseDesired(payload, this.s.group);
    if (!d) return;
    const mine = inStage(d.rolloutId, this.s.deviceId, d.cutoff) && !d.rollback;
    const took = this.running.rolloutId === d.rolloutId && this.running.phase !== 'refused' && this.running.phase !== 'rolled-back';
    if (!mine) {
      if (took) await this.rollBack(d);
      return;
    }
    if (this.running.rolloutId === d.rolloutId) return; // already switching, proving or proven for this rollout
    await this.take(d);
  }

  private async take(d: RolloutDesired): Promise<void> {
    try {
      const v = verifyCatalog(Buffer.from(d.catalog, 'utf8'), `rollout ${d.rolloutId}`, this.s.publicKey, d.signature);
      if (v.catalogVersion !== d.catalogVersion) throw new Error(`the signed catalog is version ${v.catalogVersion}, the rollout says ${d.catalogVersion}`);
      if (v.catalogVersion <= this.running.lastGood) throw new Error(`catalog version ${v.catalogVersion} is not newer than ${this.running.lastGood} (a replay)`);
    } catch (err) {
      await this.publish({ rolloutId: d.rolloutId, phase: 'refused', catalogVersion: d.catalogVersion, reason: errorMessage(err) });
      return;
    }
    // the last good catalog stays until the new one has proved itself and the rollout moved on
    this.running = { ...this.running, catalogVersion: d.catalogVersion };
    await this.publish({ rolloutId: d.rolloutId, phase: 'proving', catalogVersion: d.catalogVersion });
    this.timer = setTimeout(() => {
      const h = this.s.health;
      const health: DeviceHealth = {
        p90Ms: round(h.p90Ms * h.p90Factor), previousP90Ms: h.p90Ms, fps: round(h.fps * h.fpsFactor), previousFps: h.fps,
        crashes: h.crashes, restarts: 0, fidelity: h.fidelity,
      };
      if (this.running.rolloutId === d.rolloutId && this.running.phase === 'proving') void this.publish({ rolloutId: d.rolloutId, phase: 'proven', catalogVersion: d.catalogVersion, health });
    }, this.s.provingMs);
  }

  private async rollBack(d: RolloutDesired): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.running = { ...this.running, catalogVersion: this.running.lastGood };
    await this.publish({ rolloutId: d.rolloutId, phase: 'rolled-back', catalogVersion: this.running.lastGood, reason: d.rollback ? 'rolled back by the controller' : 'no longer in the rollout' });
  }

  /** A completed rollout: the new catalog becomes the last good one. */
  commit(): void {
    if (this.running.phase === 'proven') this.running = { ...this.running, lastGood: this.running.catalogVersion };
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * A set of virtual devices on a few connections: each connection subscribes the group's desired catalog once
 * and hands each message to its devices.
 */
export async function startVirtualGroup(clients: MqttClient[], specs: VirtualDeviceSpec[]): Promise<VirtualRolloutDevice[]> {
  const devices = specs.map((s, i) => new VirtualRolloutDevice(s, clients[i % clients.length]!));
  const byClient = new Map<MqttClient, VirtualRolloutDevice[]>();
  devices.forEach((d, i) => { const c = clients[i % clients.length]!; (byClient.get(c) ?? byClient.set(c, []).get(c)!).push(d); });
  await Promise.all(devices.map((d) => d.start()));
  const groups = [...new Set(specs.map((s) => `${s.prefix}\0${s.group}`))].map((k) => { const [prefix, group] = k.split('\0') as [string, string]; return rolloutTopics(prefix, group).desired; });
  for (const [c, ds] of byClient) {
    c.on('message', (topic, payload) => { if (groups.includes(topic)) for (const d of ds) void d.onDesired(Buffer.from(payload)); });
    await c.subscribeAsync(groups, { qos: 1 });
  }
  return devices;
}

/** The fleet simulator's rollout flags (scripts/fleet-sim.ts): virtual devices joining a group, with their health. */
export interface SimRolloutArgs {
  group: string;
  publicKeyPath: string;
  /** board -> p90 factor on the new catalog (a latency regression on one board type) */
  regress: Map<string, number>;
  /** this many devices never answer (offline during their stage) */
  offline: number;
  provingMs: number;
}

/** --rollout-group NAME --public-key PEM [--regress BOARD=FACTOR]... [--offline N] [--proving-seconds S]; undefined without --rollout-group. */
export function simRolloutArgs(argv: string[]): SimRolloutArgs | undefined {
  const get = (k: string) => { const i = argv.lastIndexOf(`--${k}`); return i >= 0 ? argv[i + 1] : undefined; };
  const group = get('rollout-group');
  if (!group) return undefined;
  const publicKeyPath = get('public-key');
  if (!publicKeyPath) throw new Error('--rollout-group needs --public-key PEM (the devices verify the catalog with it)');
  const regress = new Map<string, number>();
  argv.forEach((k, i) => {
    if (k !== '--regress') return;
    const m = /^([A-Za-z0-9._-]+)=(\d+(?:\.\d+)?)$/.exec(argv[i + 1] ?? '');
    if (!m) throw new Error('--regress takes BOARD=FACTOR, e.g. raspberry-pi-4=1.6');
    regress.set(m[1]!, Number(m[2]));
  });
  const offline = Number(get('offline') ?? 0);
  const provingMs = Number(get('proving-seconds') ?? 2) * 1000;
  if (!Number.isInteger(offline) || offline < 0 || !(provingMs > 0)) throw new Error('--offline takes a whole number, --proving-seconds a positive number');
  return { group, publicKeyPath, regress, offline, provingMs };
}
