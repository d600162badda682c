/**
 * Shared measurements: what a device publishes of its own profile cache, and what a starting device reads of the
 * fleet's, checked at the boundary (size, schema, bounds, internal consistency, the exact fingerprint).
 *
 * The start reads them before the daemon's MQTT link exists (the selection comes first: the link announces the
 * chosen model), with one short-lived connection that subscribes only its own fingerprint's subtree and returns
 * when a marker it publishes after subscribing comes back: the broker sends a subscription's retained messages
 * before anything published after it, so 10,000 entries of other boards cost nothing and this board's arrive in
 * one burst, without waiting for a quiet period.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { MqttConfig } from '../config/types.js';
import type { CacheEntry, CacheKey } from '../profile/cache.js';
import type { Measurement } from '../profile/types.js';
import type { ProviderName } from '../types/provider.js';
import type { FleetFigure, FleetSeed } from '../select/fleet-seed.js';
import { errorMessage } from '../util/errors.js';
import { MAX_FLEET_PAYLOAD } from './fleet-schemas.js';
import { fingerprintLevel, fleetTopics } from './topics.js';
import { readRetainedUntilMarker } from './retained-read.js';
import * as generated from './fleet-validators.generated.js';

export interface FleetMeasurementPayload {
  format: 'edgefit-fleet-measurement/1';
  deviceId: string;
  ts: string;
  board: string;
  key: { sha256: string; resolution: number; ortVersion: string; provider: ProviderName; threads: number };
  measurement: {
    variantId: string; runs: number; p50Ms: number; p90Ms: number; p99Ms: number; meanMs: number; stddevMs: number;
    minMs: number; maxMs: number; sessionCreateMs: number; rssGrowthMb: number; peakMb: number; measuredAt: string;
  };
}

const validate = (generated as unknown as Record<string, ((x: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null }>).fleet_measurement!;

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The payload of one own cache entry, or undefined when it is not worth sharing (failed, incomplete, foreign). */
export function measurementPayload(deviceId: string, e: CacheEntry): FleetMeasurementPayload | undefined {
  const m = e.measurement;
  if (!m.ok || m.fromFleet !== undefined) return undefined;
  const l = m.latencyMs;
  const nums = [l.p50, l.p90, l.p99, l.mean, l.stddev, l.min, l.max, m.sessionCreateMs, m.rssGrowthMb, m.peakMb];
  if (!nums.every(Number.isFinite)) return undefined;
  const p: FleetMeasurementPayload = {
    format: 'edgefit-fleet-measurement/1', deviceId, ts: new Date().toISOString(), board: e.key.board,
    key: { sha256: e.key.sha256, resolution: e.key.resolution, ortVersion: e.key.ortVersion, provider: e.key.provider, threads: e.key.threads },
    measurement: {
      variantId: m.variantId, runs: m.runs, p50Ms: r3(l.p50), p90Ms: r3(l.p90), p99Ms: r3(l.p99), meanMs: r3(l.mean), stddevMs: r3(l.stddev),
      minMs: r3(l.min), maxMs: r3(l.max), sessionCreateMs: r3(m.sessionCreateMs), rssGrowthMb: r3(Math.max(0, m.rssGrowthMb)), peakMb: r3(Math.max(0, m.peakMb)), measuredAt: m.measuredAt,
    },
  };
  return validate(p) && consistent(p) === undefined ? p : undefined;
}

/** Figures a measurement cannot have: percentiles out of order, a mean outside the range. */
function consistent(p: FleetMeasurementPayload): string | undefined {
  const m = p.measurement;
  const eps = 1e-6;
  if (!(m.minMs <= m.p50Ms + eps && m.p50Ms <= m.p90Ms + eps && m.p90Ms <= m.p99Ms + eps && m.p99Ms <= m.maxMs + eps)) return 'percentiles out of order (min <= p50 <= p90 <= p99 <= max)';
  if (m.meanMs < m.minMs - eps || m.meanMs > m.maxMs + eps) return 'mean outside [min, max]';
  if (Number.isNaN(Date.parse(m.measuredAt))) return 'measuredAt is not a date';
  return undefined;
}

export type ParsedFigure = { ok: true; figure: FleetFigure } | { ok: false; reason: string };

/**
 * One retained message of the fleet's measurements, for a device of fingerprint `board` on runtime `ortVersion`.
 * Refused: too large, not JSON, not the schema (bounds), inconsistent figures, another fingerprint or runtime,
 * a key that is not the topic's.
 */
export function parseFleetMeasurement(prefix: string, topic: string, payload: Buffer, board: string, ortVersion: string): ParsedFigure {
  const t = fleetTopics(prefix).parseMeasurement(topic, fingerprintLevel(board), ortVersion);
  if (!t) return { ok: false, reason: 'not a measurement topic of this fingerprint' };
  if (payload.length > MAX_FLEET_PAYLOAD) return { ok: false, reason: `larger than ${MAX_FLEET_PAYLOAD} bytes` };
  let data: unknown;
  try { data = JSON.parse(payload.toString('utf8')); } catch { return { ok: false, reason: 'not JSON' }; }
  if (!validate(data)) {
    const e = validate.errors?.[0];
    return { ok: false, reason: `schema: ${e ? `${e.instancePath || '/'} ${e.message ?? ''}` : 'invalid'}` };
  }
  const p = data as FleetMeasurementPayload;
  if (p.board !== board) return { ok: false, reason: 'another board fingerprint (the topic\'s hash matched, the payload\'s fingerprint did not)' };
  if (p.key.ortVersion !== ortVersion) return { ok: false, reason: 'another runtime version' };
  if (p.key.sha256 !== t.sha256 || p.key.resolution !== t.resolution || p.key.provider !== t.provider || p.key.threads !== t.threads) return { ok: false, reason: 'the key differs from the topic' };
  const bad = consistent(p);
  if (bad) return { ok: false, reason: bad };
  const m = p.measurement;
  const key: CacheKey = { board, sha256: p.key.sha256, resolution: p.key.resolution, ortVersion, provider: p.key.provider, threads: p.key.threads };
  const measurement: Measurement = {
    variantId: m.variantId, provider: p.key.provider, threads: p.key.threads, ok: true, runs: m.runs,
    latencyMs: { p50: m.p50Ms, p90: m.p90Ms, p99: m.p99Ms, mean: m.meanMs, stddev: m.stddevMs, min: m.minMs, max: m.maxMs },
    sessionCreateMs: m.sessionCreateMs, rssGrowthMb: m.rssGrowthMb, peakMb: m.peakMb, measuredAt: m.measuredAt, fromFleet: p.deviceId,
  };
  return { ok: true, figure: { deviceId: p.deviceId, key, measurement } };
}

/** mqtt.js options of a short-lived fleet connection, from the daemon's MQTT settings. */
export function fleetClientOptions(c: MqttConfig, clientId: string): IClientOptions {
  const t = c.tls;
  return {
    clientId, protocolVersion: c.protocolVersion, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, keepalive: 30,
    ...(c.username ? { username: c.username } : {}), ...(c.password ? { password: c.password } : {}),
    ...(t.ca ? { ca: readFileSync(t.ca) } : {}), ...(t.cert ? { cert: readFileSync(t.cert) } : {}), ...(t.key ? { key: readFileSync(t.key) } : {}),
    rejectUnauthorized: t.rejectUnauthorized,
  };
}

export interface FetchOptions {
  url: string;
  mqtt: MqttConfig;
  deviceId: string;
  board: string;
  ortVersion: string;
  /** give up waiting (the seed holds what arrived so far) */
  waitMs: number;
  log?: (line: string, fields?: Record<string, unknown>) => void;
}

/** The largest packet the seed's client reads: one measurement, its topic and the packet's headers. */
export const SEED_MAX_PACKET = MAX_FLEET_PAYLOAD + 16 * 1024;

/** The most figures one start takes from the fleet (a ladder is tens of rungs x 3 thread counts x providers). */
export const MAX_SEED_FIGURES = 4096;

/**
 * The fleet's retained measurements of this fingerprint and runtime. Never throws: an unreachable broker, a
 * refused subscription or a timeout yields what arrived (possibly nothing), and the start measures for itself.
 */
export async function fetchFleetSeed(o: FetchOptions): Promise<FleetSeed & { complete: boolean; ms: number }> {
  const started = Date.now();
  const topics = fleetTopics(o.mqtt.prefix);
  const fp = fingerprintLevel(o.board);
  const filter = topics.measurementsOf(fp, o.ortVersion);
  const nonce = randomBytes(8).toString('hex');
  const marker = topics.syncMarker(fp, o.ortVersion, nonce);
  const syncBase = marker.slice(0, marker.length - nonce.length);
  const figures = new Map<string, FleetFigure>();
  let refused = 0;
  const { default: mqtt } = await import('mqtt');
  let options: IClientOptions;
  try { options = fleetClientOptions(o.mqtt, `edgefit-${o.deviceId}-seed-${nonce.slice(0, 6)}`); } catch (err) {
    o.log?.('fleet measurements not read: the MQTT TLS files are unreadable', { error: errorMessage(err) });
    return { board: o.board, figures: [], refused: 0, complete: false, ms: Date.now() - started };
  }
  // MQTT 5: the broker withholds a retained entry too large to be a measurement instead of us reading it whole
  const client = mqtt.connect(o.url, o.mqtt.protocolVersion === 5 ? { ...options, properties: { ...options.properties, maximumPacketSize: SEED_MAX_PACKET } } : options);
  const complete = await new Promise<boolean>((resolve) => {
    // the whole read, connection included, is bounded by waitMs
    const timer = setTimeout(() => resolve(false), o.waitMs);
    const finish = (ok: boolean): void => { clearTimeout(timer); resolve(ok); };
    client.on('error', (err) => { o.log?.('fleet measurements: broker error', { error: errorMessage(err) }); finish(false); });
    client.on('connect', () => {
      void readRetainedUntilMarker(client, {
        filters: [filter], marker, waitMs: Math.max(1, o.waitMs - (Date.now() - started)),
        onMessage: (topic, payload) => {
          // another starting device's marker
          if (topic.startsWith(syncBase)) return;
          const got = parseFleetMeasurement(o.mqtt.prefix, topic, payload, o.board, o.ortVersion);
          if (!got.ok) {
            refused++;
            if (refused <= 5) o.log?.('fleet measurement refused', { topic: topic.slice(0, 200), reason: got.reason });
            return;
          }
          if (figures.size < MAX_SEED_FIGURES) figures.set(topic, got.figure);
        },
        onMarkerError: (e) => o.log?.('fleet measurements: marker not published; waiting for the time-out', { error: errorMessage(e) }),
      }).then((end) => {
        if (end === 'refused') o.log?.('fleet measurements: subscription refused by the broker (ACL?)', { filter });
        finish(end === 'marker');
      });
    });
  });
  await new Promise<void>((r) => client.end(true, {}, () => r()));
  return { board: o.board, figures: [...figures.values()], refused, complete, ms: Date.now() - started };
}
