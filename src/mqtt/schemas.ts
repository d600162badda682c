/**
 * JSON Schemas (draft-07) of the MQTT payloads and of command arguments. Published in schemas/mqtt/ for
 * consumers (a test keeps those files equal to these objects); the command schemas validate incoming requests.
 */
type Schema = Record<string, unknown>;

const num = { type: 'number' };
const int = { type: 'integer', minimum: 0 };
const str = { type: 'string' };
const iso = { type: 'string', minLength: 20 };
const pct = { type: 'object', required: ['p50', 'p90', 'p99'], properties: { p50: num, p90: num, p99: num }, additionalProperties: false };

export const statusSchema: Schema = {
  $id: 'edgefit/status', title: 'edgefit/<device>/status (retained, QoS 1)', type: 'object',
  required: ['state', 'session', 'deviceId', 'ts', 'version'],
  properties: { state: { enum: ['online', 'stopped', 'offline', 'degraded'] }, session: int, deviceId: str, ts: iso, version: str, warning: str },
  additionalProperties: false,
};

const candidate = {
  type: 'object', required: ['id', 'family', 'alpha', 'resolution', 'precision', 'macs', 'chosen'],
  properties: {
    id: str, family: str, alpha: num, resolution: int, precision: str, provider: str, referenceAccuracy: num, macs: int,
    p90Ms: num, peakMb: num, chosen: { type: 'boolean' }, reason: str, detail: str,
  },
  additionalProperties: false,
};

export const modelSchema: Schema = {
  $id: 'edgefit/model', title: 'edgefit/<device>/model (retained, QoS 1)', type: 'object',
  required: ['deviceId', 'session', 'ts', 'variant', 'provider', 'threads', 'reason', 'budget', 'measurement', 'candidates', 'measured', 'ladder', 'labelsMeaningful', 'board'],
  properties: {
    deviceId: str, session: int, ts: iso,
    variant: {
      type: 'object', required: ['id', 'family', 'alpha', 'resolution', 'precision', 'macs', 'params', 'pretrained', 'source'],
      properties: { id: str, family: str, alpha: num, resolution: int, precision: str, referenceAccuracy: num, macs: int, params: int, pretrained: { type: 'boolean' }, source: str },
      additionalProperties: false,
    },
    provider: str, threads: int, reason: str,
    budget: { type: 'object', properties: { latencyMs: num, percentile: str, memoryMb: num, minAccuracy: num }, additionalProperties: false },
    measurement: { anyOf: [{ type: 'null' }, { type: 'object', required: ['p50Ms', 'p90Ms', 'p99Ms', 'peakMb'], properties: { p50Ms: num, p90Ms: num, p99Ms: num, peakMb: num }, additionalProperties: false }] },
    candidates: { type: 'array', items: candidate },
    measured: int, ladder: int, labelsMeaningful: { type: 'boolean' }, board: str,
  },
  additionalProperties: false,
};

export const resultSchema: Schema = {
  $id: 'edgefit/result', title: 'edgefit/<device>/result (QoS 1, durable outbox)', type: 'object',
  required: ['deviceId', 'session', 'seq', 'frameTs', 'ts', 'variant', 'top', 'latencyMs', 'inferMs'],
  properties: {
    deviceId: str, session: int, seq: { type: 'integer', minimum: 1 }, frameTs: int, ts: iso, variant: str,
    top: {
      type: 'array', minItems: 0,
      items: { type: 'object', required: ['index', 'label', 'score'], properties: { index: int, label: str, score: { type: 'number', minimum: 0, maximum: 1.0001 } }, additionalProperties: false },
    },
    latencyMs: { type: 'number', minimum: 0 }, inferMs: { type: 'number', minimum: 0 },
  },
  additionalProperties: false,
};

export const telemetrySchema: Schema = {
  $id: 'edgefit/telemetry', title: 'edgefit/<device>/telemetry (QoS 0, every mqtt.telemetrySeconds)', type: 'object',
  required: ['deviceId', 'session', 'ts', 'windowSeconds', 'variant', 'provider', 'paused', 'frames', 'fps', 'latencyMs', 'inferMs', 'cpuPercent', 'rssMb', 'temperatureC', 'throttled', 'outbox', 'reconnects', 'engine', 'camera', 'eventLoopDelayP99Ms'],
  properties: {
    deviceId: str, session: int, ts: iso, windowSeconds: num, variant: str, provider: str, paused: { type: 'boolean' },
    frames: { type: 'object', required: ['in', 'inferred', 'dropped'], properties: { in: int, inferred: int, dropped: int }, additionalProperties: false },
    fps: num, latencyMs: pct, inferMs: pct, cpuPercent: num, rssMb: num,
    temperatureC: { type: ['number', 'null'] },
    throttled: { anyOf: [{ type: 'null' }, { type: 'array', items: str }] },
    // `refused` is newer than the first daemons: consumers must accept telemetry without it
    outbox: { type: 'object', required: ['depth', 'dropped'], properties: { depth: int, dropped: int, refused: int }, additionalProperties: false },
    reconnects: int,
    engine: { type: 'object', required: ['restarts', 'timeouts', 'crashes', 'degraded'], properties: { restarts: int, timeouts: int, crashes: int, degraded: { type: 'boolean' } }, additionalProperties: false },
    camera: { type: 'object', required: ['online', 'stalls', 'restarts'], properties: { online: { type: 'boolean' }, stalls: int, restarts: int, lastError: str }, additionalProperties: false },
    eventLoopDelayP99Ms: num,
  },
  additionalProperties: false,
};

export const eventSchema: Schema = {
  $id: 'edgefit/event', title: 'edgefit/<device>/event (QoS 1)', type: 'object',
  required: ['deviceId', 'session', 'ts', 'type', 'message'],
  properties: { deviceId: str, session: int, seq: { type: 'integer', minimum: 1 }, ts: iso, type: { enum: ['switch', 'camera', 'engine', 'outbox'] }, message: str, from: str, to: str },
  additionalProperties: false,
};

export const replySchema: Schema = {
  $id: 'edgefit/reply', title: 'reply to a command (response topic, or edgefit/<device>/reply/<verb>)', type: 'object',
  required: ['verb', 'ok'],
  properties: {
    id: str, verb: str, ok: { type: 'boolean' }, result: {},
    error: { type: 'object', required: ['code', 'message'], properties: { code: str, message: str }, additionalProperties: false },
  },
  additionalProperties: false,
};

const noArgs = { type: 'object', additionalProperties: false, maxProperties: 0 };
const positive = (max: number) => ({ type: 'number', exclusiveMinimum: 0, maximum: max });

/** Request schemas per verb: { id?: string, args?: {...} }. Anything else is refused. */
export const commandSchemas: Record<string, Schema> = Object.fromEntries(
  Object.entries({
    reselect: noArgs,
    'set-budget': {
      type: 'object', additionalProperties: false, minProperties: 1,
      properties: { latencyMs: positive(60_000), fps: positive(1000), memoryMb: positive(1_000_000), minAccuracy: { type: 'number', minimum: 0, maximum: 1 } },
    },
    pause: noArgs,
    resume: noArgs,
    'pull-model': { type: 'object', additionalProperties: false, properties: { id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,100}$' }, mirror: { type: 'string', maxLength: 2048, pattern: '^(https?://|/)' } } },
    snapshot: { type: 'object', additionalProperties: false, properties: { quality: { type: 'integer', minimum: 10, maximum: 100 } } },
  }).map(([verb, args]) => [verb, {
    $id: `edgefit/cmd/${verb}`, type: 'object', additionalProperties: false,
    properties: { id: { type: 'string', minLength: 1, maxLength: 128 }, args },
  }]),
);

export const payloadSchemas = { status: statusSchema, model: modelSchema, result: resultSchema, telemetry: telemetrySchema, event: eventSchema, reply: replySchema };
