/**
 * Staged rollouts of a signed catalog to a group of devices: the topics, the payloads, who takes part in a stage,
 * and the health gate. Pure (no connection): the controller (fleet-rollout-controller.ts), the devices and the
 * fleet simulator share these, so a device and the controller cannot disagree on who is in a stage.
 *
 * Topics (docs/fleet.md):
 *   <prefix>/fleet/rollout/<group>/desired   retained, controller: the catalog (text + detached signature) and
 *                                            the stage's cutoff; `rollback` sends every device back
 *   <prefix>/fleet/rollout/<group>/state     retained, controller: the rollout as `rollout status` shows it
 *   <prefix>/fleet/rollout/<group>/control   QoS 1, `rollout pause/resume/abort` -> the controller
 *   <prefix>/fleet/groups/<group>/<deviceId> retained, device: membership, running catalog version, and its
 *                                            part in the rollout (phase, health)
 */
import { createHash } from 'node:crypto';
import { EdgefitError } from '../util/errors.js';
import { validateLevel, validatePrefix } from './topics.js';

export const ROLLOUT_FORMAT = 'edgefit-rollout/1';
/** the largest catalog a rollout carries (the shipped one is ~10 KiB) */
export const MAX_ROLLOUT_CATALOG = 256 * 1024;
export const MAX_ROLLOUT_PAYLOAD = MAX_ROLLOUT_CATALOG + 16 * 1024;
export const MAX_REPORT_PAYLOAD = 4096;
/** the largest rollout state read: results name every device of the group, with reasons */
export const MAX_STATE_PAYLOAD = 4 * 1024 * 1024;

export interface RolloutTopics {
  desired: string;
  state: string;
  control: string;
  /** subscription filter of the group's device reports */
  members: string;
  member(deviceId: string): string;
  /** a marker under the members filter (see fetchRetained) */
  membersMarker(nonce: string): string;
  /** the device id of a member topic, or undefined */
  memberOf(topic: string): string | undefined;
}

export function rolloutTopics(prefix: string, group: string): RolloutTopics {
  const p = validatePrefix(prefix);
  const g = validateLevel(group, 'group');
  const base = `${p}/fleet/rollout/${g}`;
  const members = `${p}/fleet/groups/${g}`;
  return {
    desired: `${base}/desired`,
    state: `${base}/state`,
    control: `${base}/control`,
    members: `${members}/+`,
    member: (id) => `${members}/${validateLevel(id, 'deviceId')}`,
    // one level deeper than a member: never taken for a device
    membersMarker: (nonce) => `${members}/_sync/${validateLevel(nonce, 'nonce')}`,
    memberOf: (topic) => {
      if (!topic.startsWith(`${members}/`)) return undefined;
      const id = topic.slice(members.length + 1);
      return /^[A-Za-z0-9._-]{1,64}$/.test(id) ? id : undefined;
    },
  };
}

/** The stages: the canary share, then 50%, then everyone (shares of the group, cumulative). */
export function stagesFor(canary: number): number[] {
  if (!(canary > 0 && canary <= 1)) throw new EdgefitError('E_FLAGS', `--canary must be a share above 0% and at most 100% (got ${canary * 100}%)`);
  return [...new Set([canary, Math.max(canary, 0.5), 1])];
}

/** "10%" or "0.1" -> 0.1 */
export function parseShare(text: string, flag = '--canary', allowZero = false): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(text);
  if (!m) throw new EdgefitError('E_FLAGS', `${flag} takes a share such as 10% or 0.1 (got ${JSON.stringify(text)})`);
  const v = Number(m[1]) / (m[2] ? 100 : 1);
  if (!((allowZero ? v >= 0 : v > 0) && v <= 1)) throw new EdgefitError('E_FLAGS', `${flag} must be ${allowZero ? 'from 0%' : 'above 0%'} and at most 100% (got ${text})`);
  return v;
}

/** A device's place in a rollout: sha256 of the rollout id and the device id, as hex (deterministic, per rollout). */
export function rolloutRank(rolloutId: string, deviceId: string): string {
  return createHash('sha256').update(`${rolloutId}\0${deviceId}`).digest('hex');
}

/**
 * The cutoff of a stage: the rank of the last device it takes, so that exactly ceil(share x devices) devices of
 * the group (at least one) have a rank at or below it. Devices compare their own rank; no list is published.
 */
export function cutoffFor(rolloutId: string, deviceIds: readonly string[], share: number): string {
  const ranks = deviceIds.map((d) => rolloutRank(rolloutId, d)).sort();
  const n = Math.min(ranks.length, Math.max(1, Math.ceil(share * ranks.length)));
  return ranks[n - 1] ?? '';
}

export function inStage(rolloutId: string, deviceId: string, cutoff: string): boolean {
  return cutoff !== '' && rolloutRank(rolloutId, deviceId) <= cutoff;
}

export interface RolloutDesired {
  format: typeof ROLLOUT_FORMAT;
  rolloutId: string;
  group: string;
  catalogVersion: number;
  catalogSha256: string;
  /** the catalog file's exact text and its detached signature (`<catalog>.sig`), verified by each device */
  catalog: string;
  signature: string;
  /** devices whose rank is at or below take the catalog; '' = none */
  cutoff: string;
  stage: number;
  /** every device that switched for this rollout goes back to its last good catalog */
  rollback: boolean;
  ts: string;
}

export interface RolloutThresholds {
  /** a device's p90 on the new catalog's model may be at most this times its p90 before */
  maxP90Ratio: number;
  /** fps may fall to this share of the fps before */
  minFpsRatio: number;
  /** inference crashes plus engine restarts while proving */
  maxCrashes: number;
  /** top-1 agreement of the new model with the previous one on the device's probe frames */
  minFidelity: number;
  /** a device that has not reported its health this long after its stage began counts as unhealthy */
  stageTimeoutSeconds: number;
  /** the share of a stage's devices that may be unhealthy (0: every device must be healthy) */
  maxUnhealthyShare: number;
}

export const DEFAULT_THRESHOLDS: RolloutThresholds = { maxP90Ratio: 1.25, minFpsRatio: 0.8, maxCrashes: 0, minFidelity: 0.8, stageTimeoutSeconds: 300, maxUnhealthyShare: 0 };

export interface DeviceHealth {
  p90Ms: number;
  previousP90Ms: number;
  fps: number;
  previousFps: number;
  crashes: number;
  restarts: number;
  /**
   * 0..1: the share of the device's probe frames on which the new model answers as the previous one did (a
   * classifier's top-1 label, a detector's set of labels at or above mqtt.results.minScore); null when not
   * measured (fewer than 3 probe frames, or the measurement failed: the device's log says why). null is not judged.
   */
  fidelity: number | null;
  /** the probe frames fidelity was measured on (0 with a null fidelity); absent from devices that predate it */
  fidelityFrames?: number;
}

export type RolloutPhase = 'switching' | 'proving' | 'proven' | 'refused' | 'rolled-back';

export interface MemberReport {
  format: typeof ROLLOUT_FORMAT;
  deviceId: string;
  group: string;
  board: string;
  /** the catalog version running now (0: not a signed catalog) */
  catalogVersion: number;
  ts: string;
  rollout?: { rolloutId: string; phase: RolloutPhase; catalogVersion: number; health?: DeviceHealth; reason?: string };
}

export type RolloutStatus = 'running' | 'paused' | 'halted' | 'aborted' | 'completed';

export interface StageResult {
  share: number;
  devices: number;
  healthy: string[];
  unhealthy: { deviceId: string; reason: string }[];
  waiting: string[];
}

export interface RolloutState {
  format: typeof ROLLOUT_FORMAT;
  rolloutId: string;
  group: string;
  catalogVersion: number;
  catalogSha256: string;
  status: RolloutStatus;
  stages: number[];
  stage: number;
  stageStartedAt: string;
  devices: number;
  thresholds: RolloutThresholds;
  results: StageResult[];
  message: string;
  /** the controller's last sign of life: `status` tells a controller that died from one that waits */
  heartbeat: string;
  startedAt: string;
  updatedAt: string;
}

export type HealthVerdict = { healthy: true } | { healthy: false; reason: string };

/** The gate for one device: its figures on the new model against its own figures before, and the thresholds. */
export function judgeHealth(h: DeviceHealth, t: RolloutThresholds): HealthVerdict {
  const f1 = (x: number) => x.toFixed(1);
  if (h.previousP90Ms > 0 && h.p90Ms > h.previousP90Ms * t.maxP90Ratio) return { healthy: false, reason: `p90 ${f1(h.p90Ms)} ms > ${t.maxP90Ratio}x its previous ${f1(h.previousP90Ms)} ms` };
  if (h.previousFps > 0 && h.fps < h.previousFps * t.minFpsRatio) return { healthy: false, reason: `fps ${f1(h.fps)} < ${t.minFpsRatio}x its previous ${f1(h.previousFps)}` };
  if (h.crashes + h.restarts > t.maxCrashes) return { healthy: false, reason: `${h.crashes} crash(es) and ${h.restarts} restart(s) while proving (at most ${t.maxCrashes})` };
  if (h.fidelity !== null && h.fidelity < t.minFidelity) return { healthy: false, reason: `fidelity ${(h.fidelity * 100).toFixed(0)}% < ${(t.minFidelity * 100).toFixed(0)}% on its ${h.fidelityFrames ? `${h.fidelityFrames} ` : ''}probe frames` };
  return { healthy: true };
}

/**
 * The stage's result: every device of the stage (cumulative) that proved healthy, that failed (its health, a
 * refusal, or no report by the deadline: offline devices count as not healthy), and that is still awaited.
 */
export function stageResult(rolloutId: string, share: number, stageDevices: readonly string[], reports: ReadonlyMap<string, MemberReport>, t: RolloutThresholds, timedOut: boolean): StageResult {
  const r: StageResult = { share, devices: stageDevices.length, healthy: [], unhealthy: [], waiting: [] };
  for (const id of stageDevices) {
    const ro = reports.get(id)?.rollout;
    const mine = ro && ro.rolloutId === rolloutId ? ro : undefined;
    if (mine?.phase === 'proven' && mine.health) {
      const v = judgeHealth(mine.health, t);
      if (v.healthy) r.healthy.push(id); else r.unhealthy.push({ deviceId: id, reason: v.reason });
    } else if (mine?.phase === 'refused') {
      r.unhealthy.push({ deviceId: id, reason: `refused the catalog: ${mine.reason ?? 'no reason given'}` });
    } else if (timedOut) {
      r.unhealthy.push({ deviceId: id, reason: `no health report within ${t.stageTimeoutSeconds} s (offline?)` });
    } else {
      r.waiting.push(id);
    }
  }
  return r;
}

/** What the controller does with a stage's result. */
export function stageDecision(r: StageResult, t: RolloutThresholds): 'wait' | 'pass' | 'halt' {
  const allowed = Math.floor(r.devices * t.maxUnhealthyShare);
  if (r.unhealthy.length > allowed) return 'halt';
  if (r.waiting.length > 0) return 'wait';
  return 'pass';
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const num = (x: unknown, min: number, max: number) => typeof x === 'number' && Number.isFinite(x) && x >= min && x <= max;

/** A device report as read from the broker, or undefined (too large, not JSON, out of bounds). */
export function parseMemberReport(payload: Buffer, deviceId: string, group: string): MemberReport | undefined {
  if (payload.length === 0 || payload.length > MAX_REPORT_PAYLOAD) return undefined;
  let d: unknown;
  try { d = JSON.parse(payload.toString('utf8')); } catch { return undefined; }
  if (!isObj(d) || d.format !== ROLLOUT_FORMAT || d.deviceId !== deviceId || d.group !== group || typeof d.board !== 'string' || d.board.length > 200) return undefined;
  if (!num(d.catalogVersion, 0, Number.MAX_SAFE_INTEGER) || typeof d.ts !== 'string') return undefined;
  if (d.rollout !== undefined) {
    const r = d.rollout;
    if (!isObj(r) || typeof r.rolloutId !== 'string' || r.rolloutId.length > 100 || !['switching', 'proving', 'proven', 'refused', 'rolled-back'].includes(r.phase as string)) return undefined;
    if (!num(r.catalogVersion, 0, Number.MAX_SAFE_INTEGER) || (r.reason !== undefined && (typeof r.reason !== 'string' || r.reason.length > 500))) return undefined;
    if (r.health !== undefined) {
      const h = r.health;
      if (!isObj(h) || !num(h.p90Ms, 0, 600_000) || !num(h.previousP90Ms, 0, 600_000) || !num(h.fps, 0, 1e5) || !num(h.previousFps, 0, 1e5)
        || !num(h.crashes, 0, 1e9) || !num(h.restarts, 0, 1e9) || !(h.fidelity === null || num(h.fidelity, 0, 1))
        || !(h.fidelityFrames === undefined || (Number.isInteger(h.fidelityFrames) && num(h.fidelityFrames, 0, 10_000)))) return undefined;
    }
  }
  return d as unknown as MemberReport;
}

/** The desired catalog as a device reads it, or undefined. */
export function parseDesired(payload: Buffer, group: string): RolloutDesired | undefined {
  if (payload.length === 0 || payload.length > MAX_ROLLOUT_PAYLOAD) return undefined;
  let d: unknown;
  try { d = JSON.parse(payload.toString('utf8')); } catch { return undefined; }
  if (!isObj(d) || d.format !== ROLLOUT_FORMAT || d.group !== group || typeof d.rolloutId !== 'string' || d.rolloutId.length > 100) return undefined;
  if (!num(d.catalogVersion, 1, Number.MAX_SAFE_INTEGER) || typeof d.catalogSha256 !== 'string' || typeof d.catalog !== 'string' || typeof d.signature !== 'string') return undefined;
  if (typeof d.cutoff !== 'string' || !/^([0-9a-f]{64})?$/.test(d.cutoff) || typeof d.rollback !== 'boolean' || !num(d.stage, 0, 16)) return undefined;
  return d as unknown as RolloutDesired;
}

export function parseState(payload: Buffer): RolloutState | undefined {
  if (payload.length === 0 || payload.length > MAX_STATE_PAYLOAD) return undefined;
  try {
    const d = JSON.parse(payload.toString('utf8')) as RolloutState;
    return isObj(d) && d.format === ROLLOUT_FORMAT && typeof d.rolloutId === 'string' ? d : undefined;
  } catch { return undefined; }
}
