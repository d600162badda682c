/**
 * The rollout controller. It runs in the process of `edgefit rollout start` (in the foreground, like `kubectl
 * rollout status`), because a rollout is an operator's act with a beginning and an end, and no edgefit process
 * is always on beside a fleet (the dashboard is optional and may run twice in a share group). Everything it
 * knows is retained on the broker (the desired catalog, the state with a heartbeat), so `rollout status`,
 * `pause` and `abort` work from any other process, and `abort` works even when the controller is gone: it
 * publishes the rollback itself.
 */
import { randomBytes } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import { EdgefitError, errorMessage } from '../util/errors.js';
import {
  cutoffFor, inStage, parseMemberReport, parseState, rolloutTopics, stageDecision, stageResult, stagesFor,
  ROLLOUT_FORMAT, type MemberReport, type RolloutDesired, type RolloutState, type RolloutStatus, type RolloutThresholds, type RolloutTopics, type StageResult,
} from './fleet-rollout.js';
import { readRetainedUntilMarker } from './retained-read.js';

export interface BrokerOptions {
  url: string;
  prefix: string;
  /** mqtt.js options (credentials, TLS) */
  client?: IClientOptions;
}

export interface RolloutOptions extends BrokerOptions {
  group: string;
  catalogText: string;
  signatureText: string;
  catalogVersion: number;
  catalogSha256: string;
  canary: number;
  thresholds: RolloutThresholds;
  /** how long the start waits for the group's retained membership */
  membersWaitMs?: number;
  /** how often the stage is judged and the heartbeat written */
  tickMs?: number;
  log?: (line: string) => void;
  /** called with each state published (tests, the CLI's progress) */
  onState?: (s: RolloutState) => void;
}

const HEARTBEAT_STALE_MS = 15_000;

async function connect(o: BrokerOptions, role: string): Promise<MqttClient> {
  const { default: mqtt } = await import('mqtt');
  try {
    return await mqtt.connectAsync(o.url, { clientId: `edgefit-rollout-${role}-${randomBytes(4).toString('hex')}`, protocolVersion: 5, reconnectPeriod: 1000, connectTimeout: 10_000, clean: true, ...o.client });
  } catch (err) {
    throw new EdgefitError('E_ROLLOUT', `cannot reach the broker ${o.url} (${errorMessage(err)}); check --broker and its credentials`, { cause: err });
  }
}

/** Retained messages under `filter`, complete (retained-read.ts); `marker` is a fresh topic the group's ACL lets this user write. */
async function readRetained(client: MqttClient, filter: string, marker: string, waitMs: number): Promise<Map<string, Buffer>> {
  const got = new Map<string, Buffer>();
  const filters = [filter, marker];
  const end = await readRetainedUntilMarker(client, {
    filters, marker, waitMs,
    onMessage: (topic, payload) => { if (payload.length > 0) got.set(topic, Buffer.from(payload)); else got.delete(topic); },
  });
  await client.unsubscribeAsync(filters).catch(() => undefined);
  if (end === 'refused') throw new EdgefitError('E_ROLLOUT', `the broker refused the subscription ${filters.join(', ')}; give this user read access to the fleet topics`);
  return got;
}

async function readMembers(client: MqttClient, t: RolloutTopics, group: string, waitMs: number): Promise<Map<string, MemberReport>> {
  const raw = await readRetained(client, `${t.members.slice(0, -2)}/#`, t.membersMarker(randomBytes(6).toString('hex')), waitMs);
  const out = new Map<string, MemberReport>();
  for (const [topic, payload] of raw) {
    const id = t.memberOf(topic);
    if (!id) continue;
    const r = parseMemberReport(payload, id, group);
    if (r) out.set(id, r);
  }
  return out;
}

async function readState(client: MqttClient, t: RolloutTopics, waitMs: number): Promise<RolloutState | undefined> {
  const raw = await readRetained(client, t.state, t.membersMarker(randomBytes(6).toString('hex')), waitMs);
  const p = raw.get(t.state);
  return p ? parseState(p) : undefined;
}

function live(s: RolloutState | undefined): boolean {
  return !!s && (s.status === 'running' || s.status === 'paused') && Date.now() - Date.parse(s.heartbeat) < HEARTBEAT_STALE_MS;
}

/**
 * Runs a rollout to its end: stage by stage (canary, 50%, 100%) while every stage is healthy; halts and rolls
 * every switched device back otherwise, or on `abort`. Resolves with the final state (completed, halted or
 * aborted). Refuses a group without devices, a catalog not newer than what a device of the group runs, and a
 * second rollout while one is live.
 */
export async function runRollout(o: RolloutOptions): Promise<RolloutState> {
  const log = o.log ?? (() => undefined);
  const t = rolloutTopics(o.prefix, o.group);
  const stages = stagesFor(o.canary);
  const client = await connect(o, 'controller');
  try {
    const existing = await readState(client, t, 5000);
    if (live(existing)) throw new EdgefitError('E_ROLLOUT', `rollout ${existing!.rolloutId} of group ${o.group} is ${existing!.status} (catalog version ${existing!.catalogVersion}); wait for it, or \`edgefit rollout abort --group ${o.group}\``);
    const members = await readMembers(client, t, o.group, o.membersWaitMs ?? 3000);
    if (members.size === 0) throw new EdgefitError('E_ROLLOUT_EMPTY', `group ${o.group} has no devices (none publishes ${t.members}); set fleet.group=${o.group} on the devices, start them, and try again`);
    const newest = Math.max(...[...members.values()].map((m) => m.catalogVersion));
    if (o.catalogVersion <= newest) throw new EdgefitError('E_CATALOG_REPLAY', `catalog version ${o.catalogVersion} is not newer than version ${newest}, which a device of group ${o.group} runs: versions only go up; raise catalogVersion and sign again`);
    const devices = [...members.keys()].sort();
    const rolloutId = `v${o.catalogVersion}-${randomBytes(4).toString('hex')}`;
    const reports = members;
    let paused = false;
    let abortAsked = false;
    client.on('message', (topic, payload) => {
      if (topic === t.control) {
        try {
          const c = JSON.parse(payload.toString()) as { action?: string; rolloutId?: string };
          if (c.rolloutId !== undefined && c.rolloutId !== rolloutId) return;
          if (c.action === 'pause') paused = true;
          else if (c.action === 'resume') paused = false;
          else if (c.action === 'abort') abortAsked = true;
        } catch { /* not a control message */ }
        return;
      }
      const id = t.memberOf(topic);
      if (!id || !devices.includes(id)) return;
      const r = parseMemberReport(payload, id, o.group);
      if (r) reports.set(id, r);
    });
    await client.subscribeAsync([t.members, t.control], { qos: 1 });
    const startedAt = new Date().toISOString();
    const results: StageResult[] = [];
    let state: RolloutState = {
      format: ROLLOUT_FORMAT, rolloutId, group: o.group, catalogVersion: o.catalogVersion, catalogSha256: o.catalogSha256, status: 'running',
      stages, stage: 0, stageStartedAt: startedAt, devices: devices.length, thresholds: o.thresholds, results, message: 'starting',
      heartbeat: startedAt, startedAt, updatedAt: startedAt,
    };
    const publishState = async (patch: Partial<RolloutState>) => {
      const now = new Date().toISOString();
      state = { ...state, ...patch, heartbeat: now, updatedAt: now };
      await client.publishAsync(t.state, JSON.stringify(state), { qos: 1, retain: true });
      o.onState?.(state);
    };
    const desired = (stage: number, cutoff: string, rollback: boolean): RolloutDesired => ({
      format: ROLLOUT_FORMAT, rolloutId, group: o.group, catalogVersion: o.catalogVersion, catalogSha256: o.catalogSha256,
      catalog: o.catalogText, signature: o.signatureText, cutoff, stage, rollback, ts: new Date().toISOString(),
    });
    const tick = o.tickMs ?? 500;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    const rollBack = async (status: Extract<RolloutStatus, 'halted' | 'aborted'>, message: string): Promise<RolloutState> => {
      log(`${status}: ${message}; rolling every switched device back`);
      await client.publishAsync(t.desired, JSON.stringify(desired(state.stage, '', true)), { qos: 1, retain: true });
      await publishState({ status, message: `${message}; rolling back` });
      // wait (bounded) for every device that took the catalog to report it is back on its last good one
      const deadline = Date.now() + o.thresholds.stageTimeoutSeconds * 1000;
      const switched = () => devices.filter((d) => { const r = reports.get(d)?.rollout; return r && r.rolloutId === rolloutId && r.phase !== 'rolled-back' && r.phase !== 'refused'; });
      while (switched().length > 0 && Date.now() < deadline) { await sleep(tick); await publishState({}); }
      const left = switched();
      await publishState({ message: left.length === 0 ? `${message}; every device is back on its last good catalog` : `${message}; not confirmed back yet: ${left.join(', ')} (they roll back when they next read the desired catalog)` });
      return state;
    };

    for (let i = 0; i < stages.length; i++) {
      const share = stages[i]!;
      const cutoff = cutoffFor(rolloutId, devices, share);
      const stageDevices = devices.filter((d) => inStage(rolloutId, d, cutoff));
      log(`stage ${i + 1}/${stages.length}: ${Math.round(share * 100)}% of ${devices.length} device(s) = ${stageDevices.length}`);
      // the state first: once a device sees the desired catalog, `status` and `abort` from any process must find the
      // rollout (a device can take the catalog before a state published after it reaches the broker)
      let stageStart = Date.now();
      await publishState({ stage: i, stageStartedAt: new Date(stageStart).toISOString(), message: `stage ${i + 1}: ${stageDevices.length} device(s) switching` });
      await client.publishAsync(t.desired, JSON.stringify(desired(i, cutoff, false)), { qos: 1, retain: true });
      for (;;) {
        if (abortAsked) return await rollBack('aborted', 'aborted by `edgefit rollout abort`');
        const timedOut = Date.now() - stageStart > o.thresholds.stageTimeoutSeconds * 1000;
        const r = stageResult(rolloutId, share, stageDevices, reports, o.thresholds, timedOut);
        results[i] = r;
        const decision = stageDecision(r, o.thresholds);
        if (decision === 'halt') {
          return await rollBack('halted', `stage ${i + 1} unhealthy: ${r.unhealthy.map((u) => `${u.deviceId} (${reports.get(u.deviceId)?.board ?? '?'}): ${u.reason}`).join('; ')}`);
        }
        if (paused) {
          // the stage's clock stops while paused: a pause must not turn waiting devices into timeouts
          stageStart += tick;
          await publishState({ status: 'paused', results, message: `paused at stage ${i + 1} (${r.healthy.length} healthy, ${r.waiting.length} waiting); \`edgefit rollout resume\` to go on` });
        } else if (decision === 'pass') {
          await publishState({ status: 'running', results, message: `stage ${i + 1} healthy (${r.healthy.length}/${r.devices})` });
          break;
        } else {
          await publishState({ status: 'running', results, message: `stage ${i + 1}: ${r.healthy.length} healthy, ${r.waiting.length} waiting` });
        }
        await sleep(tick);
      }
    }
    await publishState({ status: 'completed', results, message: `catalog version ${o.catalogVersion} runs on all ${devices.length} device(s) of ${o.group}` });
    return state;
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

/** The retained state of the group's rollout, and whether its controller is alive. */
export async function rolloutStatus(o: BrokerOptions & { group: string }): Promise<{ state: RolloutState | undefined; live: boolean }> {
  const client = await connect(o, 'status');
  try {
    const state = await readState(client, rolloutTopics(o.prefix, o.group), 5000);
    return { state, live: live(state) };
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}

/**
 * pause / resume: a request to the live controller. abort: the request, and, when no controller is alive to act
 * on it, the rollback itself (desired catalog with rollback, state aborted), so nothing stays half-switched.
 */
export async function controlRollout(o: BrokerOptions & { group: string }, action: 'pause' | 'resume' | 'abort'): Promise<string> {
  const t = rolloutTopics(o.prefix, o.group);
  const client = await connect(o, action);
  try {
    const state = await readState(client, t, 5000);
    if (!state) throw new EdgefitError('E_ROLLOUT', `group ${o.group} has no rollout`);
    const isLive = live(state);
    if (action !== 'abort' && !isLive) throw new EdgefitError('E_ROLLOUT', `rollout ${state.rolloutId} of group ${o.group} is ${state.status}${state.status === 'running' || state.status === 'paused' ? ' but its controller stopped (no heartbeat)' : ''}: nothing to ${action}`);
    await client.publishAsync(t.control, JSON.stringify({ action, rolloutId: state.rolloutId, ts: new Date().toISOString() }), { qos: 1 });
    if (action === 'abort' && !isLive && state.status !== 'aborted' && state.status !== 'halted') {
      const raw = await readRetained(client, t.desired, t.membersMarker(randomBytes(6).toString('hex')), 5000);
      const d = raw.get(t.desired);
      if (d) {
        const desired = JSON.parse(d.toString()) as RolloutDesired;
        await client.publishAsync(t.desired, JSON.stringify({ ...desired, cutoff: '', rollback: true, ts: new Date().toISOString() }), { qos: 1, retain: true });
      }
      const now = new Date().toISOString();
      await client.publishAsync(t.state, JSON.stringify({ ...state, status: 'aborted', message: 'aborted with no controller running; the rollback was published', heartbeat: now, updatedAt: now }), { qos: 1, retain: true });
      return `rollout ${state.rolloutId}: no controller was running; published the rollback`;
    }
    return `rollout ${state.rolloutId}: ${action} sent to its controller`;
  } finally {
    await client.endAsync().catch(() => undefined);
  }
}
