/**
 * JSON Schemas (draft-07) of the MQTT payloads and of command arguments. Published in schemas/mqtt/ for
 * consumers (a test keeps those files equal to these objects); the command schemas validate incoming requests.
 */
type Schema = Record<string, unknown>;

/**
 * Every number a device sends has a finite range, wide enough for any real board and narrow enough that no
 * consumer (the dashboard's chart, its history ring, a Home Assistant sensor) meets 1e308 or 5e-324: a
 * schema-valid p90 of 1.7e308 once made the dashboard's chart loop forever. JSON.parse turns `1e400` into
 * Infinity, which only a maximum refuses, so every number has both bounds.
 */
const range = (minimum: number, maximum: number) => ({ type: 'number', minimum, maximum });
const integer = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });
/** counters and sequence numbers: any count a device could reach, as an exact JSON integer */
const count = integer(0, Number.MAX_SAFE_INTEGER);
/** latencies and delays in ms: up to ~17 minutes (a configured budget is at most 600000 ms) */
const ms = range(0, 1e6);
/** memory in MB: up to 10 TB */
const mb = range(0, 1e7);
/** accuracies and thresholds: a fraction */
const fraction = range(0, 1);
/** ms since the epoch: the range of a JavaScript Date */
const epochMs = integer(0, 8.64e15);
const alpha = range(0, 16);
const resolution = integer(0, 16_384);
/** multiply-accumulates per inference: the largest ImageNet CNNs are ~1e10-1e11 */
const macs = integer(0, 1e13);
const params = integer(0, 1e12);
const threads = integer(0, 1024);
/** the size of a ladder, and how many of it were measured */
const ladderSize = integer(0, 100_000);
const str = { type: 'string' };
const iso = { type: 'string', minLength: 20 };
const pct = { type: 'object', required: ['p50', 'p90', 'p99'], properties: { p50: ms, p90: ms, p99: ms }, additionalProperties: false };
/** a camera id: one topic level (src/config/schema.ts cameras[].id) */
const cameraId = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' };
/** the most cameras one device serves (src/select/joint-model.ts MAX_CAMERAS) */
export const MAX_CAMERAS = 16;
/** frames per second a camera is served at (cameras[].fps is at most 240) */
const fpsRange = range(0, 1e5);
/** cores kept busy or offered: up to 1024 cores */
const cores = range(0, 1024);
const task = { enum: ['classification', 'detection'] };

/** what a selection owes to the fleet's shared measurements (docs/fleet.md): the device's, and each camera's */
const fleetUse = {
  type: 'object', required: ['fleetCandidates', 'ownCandidates', 'confirmed', 'chosenFigures', 'devices', 'refused'], additionalProperties: false,
  properties: {
    fleetCandidates: ladderSize, ownCandidates: ladderSize, confirmed: { type: 'array', maxItems: 16, items: str },
    chosenFigures: { enum: ['own', 'fleet'] }, devices: { type: 'array', maxItems: 32, items: str }, refused: count,
  },
};

const cameraModel = {
  type: 'object', required: ['id', 'variant', 'task', 'provider', 'threads', 'fps', 'reason'],
  properties: {
    id: cameraId, variant: str, task, provider: str, threads, fps: fpsRange, reason: str, priority: integer(0, 100), budgetMs: ms,
    predictedP90Ms: ms, demand: cores, accuracy: fraction, resolution, misses: { type: 'array', maxItems: 64, items: str },
    measured: { type: 'object', required: ['fps', 'p90Ms', 'served'], properties: { fps: fpsRange, p90Ms: ms, served: range(0, 1.5) }, additionalProperties: false },
    fleet: fleetUse,
  },
  additionalProperties: false,
};

const jointSummary = {
  type: 'object', required: ['feasible', 'rule', 'cores', 'slowdown', 'capacity', 'demand', 'memoryMb', 'verifiedRounds', 'met'],
  properties: {
    feasible: { type: 'boolean' }, rule: str, cores, slowdown: fraction, capacity: cores, demand: range(0, 1e6), memoryMb: mb,
    verifiedRounds: integer(0, 100), met: { type: ['boolean', 'null'] },
  },
  additionalProperties: false,
};

const cameraTelemetry = {
  type: 'object', required: ['id', 'variant', 'fps', 'p90Ms', 'dropped', 'status'],
  properties: {
    id: cameraId, variant: str, fps: fpsRange, p90Ms: ms, dropped: count, status: { enum: ['running', 'offline'] },
    inferred: count, restarts: count, droppedTotal: count,
  },
  additionalProperties: false,
};

/** the most candidates a model payload lists (the dashboard refuses more) */
export const MAX_CANDIDATES = 512;

export const statusSchema: Schema = {
  $id: 'edgefit/status', title: 'edgefit/<device>/status (retained, QoS 1)', type: 'object',
  required: ['state', 'session', 'deviceId', 'ts', 'version'],
  properties: { state: { enum: ['online', 'stopped', 'offline', 'degraded'] }, session: count, deviceId: str, ts: iso, version: str, warning: str },
  additionalProperties: false,
};

const candidate = {
  type: 'object', required: ['id', 'family', 'alpha', 'resolution', 'precision', 'macs', 'chosen'],
  properties: {
    id: str, family: str, alpha, resolution, precision: str, provider: str, referenceAccuracy: fraction, macs,
    p90Ms: ms, peakMb: mb, chosen: { type: 'boolean' }, reason: str, detail: str,
    accuracy: fraction, accuracyKind: { enum: ['published', 'estimated'] }, agreement: fraction, probeFrames: count, demoted: str,
    figures: { enum: ['own', 'fleet'] },
  },
  additionalProperties: false,
};

export const modelSchema: Schema = {
  $id: 'edgefit/model', title: 'edgefit/<device>/model (retained, QoS 1)', type: 'object',
  required: ['deviceId', 'session', 'ts', 'variant', 'provider', 'threads', 'reason', 'budget', 'measurement', 'candidates', 'measured', 'ladder', 'labelsMeaningful', 'board'],
  properties: {
    deviceId: str, session: count, ts: iso,
    variant: {
      type: 'object', required: ['id', 'family', 'alpha', 'resolution', 'precision', 'macs', 'params', 'pretrained', 'source'],
      properties: { id: str, family: str, alpha, resolution, precision: str, referenceAccuracy: fraction, macs, params, pretrained: { type: 'boolean' }, source: str, accuracy: fraction, accuracyKind: { enum: ['published', 'estimated'] } },
      additionalProperties: false,
    },
    provider: str, threads, reason: str,
    budget: { type: 'object', properties: { latencyMs: ms, percentile: str, memoryMb: mb, minAccuracy: fraction }, additionalProperties: false },
    measurement: { anyOf: [{ type: 'null' }, { type: 'object', required: ['p50Ms', 'p90Ms', 'p99Ms', 'peakMb'], properties: { p50Ms: ms, p90Ms: ms, p99Ms: ms, peakMb: mb }, additionalProperties: false }] },
    candidates: { type: 'array', maxItems: MAX_CANDIDATES, items: candidate },
    measured: ladderSize, ladder: ladderSize, labelsMeaningful: { type: 'boolean' }, board: str,
    fleet: fleetUse,
    // several cameras only (additive: a one-camera device sends neither)
    cameras: { type: 'array', maxItems: MAX_CAMERAS, items: cameraModel },
    joint: jointSummary,
  },
  additionalProperties: false,
};

/** the most detections one result carries (TFLite's post-process keeps at most a few hundred) */
export const MAX_DETECTIONS = 1000;
const score = { type: 'number', minimum: 0, maximum: 1.0001 };
const classIndex = integer(0, 1e6);
const detection = {
  type: 'object', required: ['label', 'index', 'score', 'box'],
  properties: {
    label: str, index: classIndex, score,
    // [ymin, xmin, ymax, xmax], fractions of the frame (clipped to it)
    box: { type: 'array', minItems: 4, maxItems: 4, items: fraction },
  },
  additionalProperties: false,
};

export const resultSchema: Schema = {
  $id: 'edgefit/result', title: 'edgefit/<device>/result, or edgefit/<device>/<camera>/result with several cameras (QoS 1, durable outbox)', type: 'object',
  required: ['deviceId', 'session', 'seq', 'frameTs', 'ts', 'variant', 'top', 'latencyMs', 'inferMs'],
  properties: {
    deviceId: str, camera: cameraId, session: count, seq: integer(1, Number.MAX_SAFE_INTEGER), frameTs: epochMs, ts: iso, variant: str,
    top: {
      type: 'array', minItems: 0,
      items: { type: 'object', required: ['index', 'label', 'score'], properties: { index: classIndex, label: str, score }, additionalProperties: false },
    },
    // detection task only (additive: a classifier's results have neither)
    detections: { type: 'array', maxItems: MAX_DETECTIONS, items: detection },
    counts: { type: 'object', additionalProperties: integer(1, MAX_DETECTIONS), maxProperties: MAX_DETECTIONS },
    latencyMs: ms, inferMs: ms,
  },
  additionalProperties: false,
};

export const telemetrySchema: Schema = {
  $id: 'edgefit/telemetry', title: 'edgefit/<device>/telemetry (QoS 0, every mqtt.telemetrySeconds)', type: 'object',
  required: ['deviceId', 'session', 'ts', 'windowSeconds', 'variant', 'provider', 'paused', 'frames', 'fps', 'latencyMs', 'inferMs', 'cpuPercent', 'rssMb', 'temperatureC', 'throttled', 'outbox', 'reconnects', 'engine', 'camera', 'eventLoopDelayP99Ms'],
  properties: {
    // windowSeconds: up to ~11 days (telemetrySeconds is at most a day; the first window includes the start)
    deviceId: str, session: count, ts: iso, windowSeconds: range(0, 1e6), variant: str, provider: str, paused: { type: 'boolean' },
    frames: { type: 'object', required: ['in', 'inferred', 'dropped'], properties: { in: count, inferred: count, dropped: count }, additionalProperties: false },
    // fps: inferences per second (an unpaced source on a fast board runs thousands); cpuPercent: 100 per core
    fps: range(0, 1e5), latencyMs: pct, inferMs: pct, cpuPercent: range(0, 1e5), rssMb: mb,
    // between absolute zero and what no working board reports: a glitching sensor must not lose the telemetry
    temperatureC: { type: ['number', 'null'], minimum: -273.15, maximum: 1000 },
    throttled: { anyOf: [{ type: 'null' }, { type: 'array', items: str }] },
    // `refused` is newer than the first daemons: consumers must accept telemetry without it
    outbox: { type: 'object', required: ['depth', 'dropped'], properties: { depth: count, dropped: count, refused: count }, additionalProperties: false },
    reconnects: count,
    engine: { type: 'object', required: ['restarts', 'timeouts', 'crashes', 'degraded'], properties: { restarts: count, timeouts: count, crashes: count, degraded: { type: 'boolean' } }, additionalProperties: false },
    camera: { type: 'object', required: ['online', 'stalls', 'restarts'], properties: { online: { type: 'boolean' }, stalls: count, restarts: count, lastError: str }, additionalProperties: false },
    eventLoopDelayP99Ms: ms,
    // several cameras only: per camera (the top-level figures are then summed, the latency the worst camera's)
    cameras: { type: 'array', maxItems: MAX_CAMERAS, items: cameraTelemetry },
  },
  additionalProperties: false,
};

export const eventSchema: Schema = {
  $id: 'edgefit/event', title: 'edgefit/<device>/event (QoS 1)', type: 'object',
  required: ['deviceId', 'session', 'ts', 'type', 'message'],
  properties: { deviceId: str, session: count, seq: integer(1, Number.MAX_SAFE_INTEGER), ts: iso, type: { enum: ['switch', 'camera', 'engine', 'outbox'] }, message: str, from: str, to: str },
  additionalProperties: false,
};

export const replySchema: Schema = {
  $id: 'edgefit/reply', title: 'reply to a command (response topic, or edgefit/<device>/reply/<verb>)', type: 'object',
  required: ['verb', 'ok'],
  properties: {
    id: str, verb: str, ok: { type: 'boolean' }, result: {},
    error: {
      type: 'object', required: ['code', 'message'], additionalProperties: false,
      properties: {
        code: {
          type: 'string',
          description: 'One of the error codes of docs/errors.md (ErrorCode in src/util/errors.ts), always E_ and upper snake case. '
            + 'Changed with the one ErrorCode list: the dispatcher\'s own codes were kebab-case and are now the same words in that form '
            + '(unknown-verb -> E_UNKNOWN_VERB, too-large -> E_TOO_LARGE, invalid-json -> E_INVALID_JSON, invalid-args -> E_INVALID_ARGS, '
            + 'replay -> E_REPLAY, busy -> E_BUSY, timeout -> E_TIMEOUT, failed -> E_FAILED, stopping -> E_STOPPING, no-frame -> E_NO_FRAME); '
            + 'the type stays a string, so replies of devices that still send the old codes remain valid.',
        },
        message: str,
      },
    },
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
    snapshot: { type: 'object', additionalProperties: false, properties: { quality: { type: 'integer', minimum: 10, maximum: 100 }, camera: cameraId } },
  }).map(([verb, args]) => [verb, {
    $id: `edgefit/cmd/${verb}`, type: 'object', additionalProperties: false,
    properties: { id: { type: 'string', minLength: 1, maxLength: 128 }, args },
  }]),
);

export const payloadSchemas = { status: statusSchema, model: modelSchema, result: resultSchema, telemetry: telemetrySchema, event: eventSchema, reply: replySchema };
