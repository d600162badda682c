import { Ajv, type ValidateFunction } from 'ajv';
import { RESERVED_CAMERA_IDS } from '../config/index.js';
import { eventSchema, MAX_CAMERAS, modelSchema, resultSchema, statusSchema, telemetrySchema } from '../mqtt/schemas.js';
import type { EventPayload, ModelPayload, ResultPayload, StatusPayload, TelemetryPayload } from '../mqtt/payloads.js';

/**
 * The dashboard's boundary: everything that arrives over MQTT is parsed and checked here before the store sees
 * it. Any client allowed to publish under the prefix can send anything, so the topic level, the size, the JSON,
 * the shape and the range of every number (the published JSON Schemas, which the daemon's payloads are tested
 * against) and the lengths of free-text fields are all checked; the payload's deviceId must be the topic's.
 */
export type Inbound =
  | { kind: 'status'; deviceId: string; payload: StatusPayload }
  | { kind: 'model'; deviceId: string; payload: ModelPayload }
  | { kind: 'telemetry'; deviceId: string; payload: TelemetryPayload }
  /** `camera`: it came on <prefix>/<deviceId>/<camera>/result (several cameras), and the payload names that camera */
  | { kind: 'result'; deviceId: string; payload: ResultPayload; camera?: string }
  | { kind: 'event'; deviceId: string; payload: EventPayload }
  /** an empty message on a retained topic: the broker no longer holds the device's status or model */
  | { kind: 'cleared'; deviceId: string; topic: 'status' | 'model' };

export type Kind = Exclude<Inbound['kind'], 'cleared'>;

export const MAX_BYTES: Record<Kind, number> = {
  status: 4 * 1024,
  model: 256 * 1024,
  telemetry: 16 * 1024,
  result: 16 * 1024,
  event: 8 * 1024,
};

/** Snapshot JPEGs above this are refused (a 640x480 q80 frame is ~50 KB). */
export const MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024;
export const MAX_TOP = 10;
/** boxes a result keeps for the device view (the most confident first, as the device sends them) */
export const MAX_SHOWN_DETECTIONS = 20;
/** labels a result's counts keep (the largest counts) */
export const MAX_COUNTS = 20;
/** free text (labels, reasons) is cut to this many characters before it is kept or shown */
export const MAX_TEXT = 200;

const LEVEL = /^[A-Za-z0-9._-]{1,64}$/;

/** cameras of one device the dashboard keeps (the schemas refuse longer lists; results may name no more either) */
export const MAX_DEVICE_CAMERAS = MAX_CAMERAS;

export type Rejection = { reason: 'topic' | 'device-id' | 'camera-id' | 'too-large' | 'json' | 'shape' | 'mismatch'; detail: string };

const ajv = new Ajv({ allErrors: false, strict: false });
const validators: Record<Kind, ValidateFunction> = {
  status: ajv.compile(statusSchema),
  model: ajv.compile(modelSchema),
  telemetry: ajv.compile(telemetrySchema),
  result: ajv.compile(resultSchema),
  event: ajv.compile(eventSchema),
};

/**
 * The device id and kind of `<prefix>/<deviceId>/<kind>`, or of a camera's `<prefix>/<deviceId>/<camera>/result`
 * (several cameras: only results have a level per camera), or a rejection.
 */
export function parseTopic(prefix: string, topic: string): { deviceId: string; kind: string; camera?: string } | Rejection {
  if (!topic.startsWith(prefix + '/')) return { reason: 'topic', detail: 'outside the prefix' };
  const rest = topic.slice(prefix.length + 1).split('/');
  const perCamera = rest.length === 3 && rest[2] === 'result';
  if (rest.length !== 2 && !perCamera) return { reason: 'topic', detail: `unexpected depth (${rest.length} levels below the prefix)` };
  const deviceId = rest[0]!;
  if (!LEVEL.test(deviceId)) return { reason: 'device-id', detail: 'device id breaks the topic-level rule' };
  if (!perCamera) return { deviceId, kind: rest[1]! };
  const camera = rest[1]!;
  // a reserved level is one of the device's own topics (<device>/cmd/result is a command), never a camera
  if (!LEVEL.test(camera) || RESERVED_CAMERA_IDS.includes(camera)) return { reason: 'camera-id', detail: 'camera id breaks the topic-level rule or names one of the device\'s own topics' };
  return { deviceId, kind: 'result', camera };
}

const clip = (s: string) => (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT - 1) + '…' : s);

/** The first entry per camera id, at most MAX_DEVICE_CAMERAS (the schema caps the list; a repeated id is dropped). */
function uniqueIds<T extends { id: string }>(list: T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const c of list) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    out.push(c);
    if (out.length === MAX_DEVICE_CAMERAS) break;
  }
  return out;
}

export function validateMessage(prefix: string, topic: string, payload: Buffer): Inbound | Rejection {
  const t = parseTopic(prefix, topic);
  if ('reason' in t) return t;
  const kind = t.kind as Kind;
  if (!(kind in validators)) return { reason: 'topic', detail: `not a dashboard topic: ${kind.slice(0, 32)}` };
  // an empty retained message is how a retained topic is cleared (MQTT 3.3.1.3), and it reaches those subscribed
  if (payload.length === 0 && (kind === 'status' || kind === 'model')) return { kind: 'cleared', deviceId: t.deviceId, topic: kind };
  if (payload.length > MAX_BYTES[kind]) return { reason: 'too-large', detail: `${kind} of ${payload.length} bytes (limit ${MAX_BYTES[kind]})` };
  let data: unknown;
  try { data = JSON.parse(payload.toString('utf8')); } catch { return { reason: 'json', detail: `${kind} is not JSON` }; }
  const v = validators[kind];
  if (!v(data)) {
    const e = v.errors?.[0];
    return { reason: 'shape', detail: `${kind}${e?.instancePath ?? ''} ${e?.message ?? 'does not match the schema'}` };
  }
  const p = data as { deviceId: string; camera?: string };
  if (p.deviceId !== t.deviceId) return { reason: 'mismatch', detail: `${kind} names device "${clip(p.deviceId).slice(0, 64)}" but came on ${t.deviceId}'s topic` };
  // a camera's result names its camera, and only on that camera's topic
  if (kind === 'result' && p.camera !== t.camera) {
    return { reason: 'mismatch', detail: `result names camera "${clip(String(p.camera ?? '')).slice(0, 64)}" but came on ${t.camera === undefined ? 'the device\'s own' : `camera ${t.camera}'s`} topic` };
  }
  switch (kind) {
    case 'model': {
      const m = data as ModelPayload;
      m.reason = clip(m.reason);
      m.board = clip(m.board);
      m.variant.id = clip(m.variant.id);
      m.variant.source = clip(m.variant.source);
      for (const c of m.candidates) {
        c.id = clip(c.id);
        if (c.reason !== undefined) c.reason = clip(c.reason);
        if (c.detail !== undefined) c.detail = clip(c.detail);
      }
      if (m.cameras) {
        m.cameras = uniqueIds(m.cameras);
        for (const c of m.cameras) {
          c.variant = clip(c.variant);
          c.provider = clip(c.provider);
          c.reason = clip(c.reason);
          if (c.misses) c.misses = c.misses.slice(0, 8).map(clip);
        }
      }
      if (m.joint) m.joint.rule = clip(m.joint.rule);
      return { kind, deviceId: t.deviceId, payload: m };
    }
    case 'result': {
      const r = data as ResultPayload;
      r.top = r.top.slice(0, MAX_TOP).map((e) => ({ ...e, label: clip(e.label) }));
      r.variant = clip(r.variant);
      if (r.detections) r.detections = r.detections.slice(0, MAX_SHOWN_DETECTIONS).map((d) => ({ ...d, label: clip(d.label) }));
      if (r.counts) r.counts = Object.fromEntries(Object.entries(r.counts).sort((a, b) => b[1] - a[1]).slice(0, MAX_COUNTS).map(([l, n]) => [clip(l), n]));
      return { kind, deviceId: t.deviceId, payload: r, ...(t.camera !== undefined ? { camera: t.camera } : {}) };
    }
    case 'telemetry': {
      const m = data as TelemetryPayload;
      m.variant = clip(m.variant);
      m.provider = clip(m.provider);
      if (m.throttled) m.throttled = m.throttled.slice(0, 8).map(clip);
      if (m.camera.lastError !== undefined) m.camera.lastError = clip(m.camera.lastError);
      if (m.cameras) {
        m.cameras = uniqueIds(m.cameras);
        for (const c of m.cameras) c.variant = clip(c.variant);
      }
      return { kind, deviceId: t.deviceId, payload: m };
    }
    case 'event': {
      const e = data as EventPayload;
      e.message = clip(e.message);
      if (e.from !== undefined) e.from = clip(e.from);
      if (e.to !== undefined) e.to = clip(e.to);
      return { kind, deviceId: t.deviceId, payload: e };
    }
    case 'status': {
      const s = data as StatusPayload;
      s.version = clip(s.version);
      if (s.warning !== undefined) s.warning = clip(s.warning);
      return { kind, deviceId: t.deviceId, payload: s };
    }
  }
}
