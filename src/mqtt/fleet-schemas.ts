/**
 * JSON Schemas (draft-07) of the fleet topics: shared profile measurements, rollouts and their health reports.
 * Published in schemas/mqtt/ beside the device payloads; compiled into fleet-validators.generated.ts
 * (scripts/write-validators.ts), so a device checks what other devices wrote without loading ajv.
 *
 * Every figure has both bounds, and the bounds are what a real board can measure, not what JSON can hold: a
 * hostile or broken device must not steer another device's choice with a 1e-9 ms latency or a 1e308 MB peak.
 */
type Schema = Record<string, unknown>;

const integer = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });
const str = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });
const level = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' };
const iso = { type: 'string', minLength: 20, maxLength: 40 };
/** a latency a board can measure: 1 µs to 10 minutes */
const latency = { type: 'number', minimum: 0.001, maximum: 600_000 };
/** memory added by a model session: up to 1 TB */
const memory = { type: 'number', minimum: 0, maximum: 1_000_000 };
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const provider = { enum: ['tensorrt', 'cuda', 'cpu', 'wasm', 'tfjs-node', 'tfjs-wasm'] };

/** The largest fleet message edgefit publishes or reads (bytes): a bigger one is dropped unread. */
export const MAX_FLEET_PAYLOAD = 4096;

export const fleetMeasurementSchema: Schema = {
  $id: 'edgefit/fleet-measurement',
  title: '<prefix>/fleet/measurements/<fingerprint id>/<runtime>/<sha256>/<resolution>/<provider>/<threads> (retained, QoS 1)',
  description: 'One profile measurement a device made of a model on its board, shared with devices of the same board fingerprint. At most 4 KiB.',
  type: 'object',
  required: ['format', 'deviceId', 'ts', 'board', 'key', 'measurement'],
  properties: {
    format: { const: 'edgefit-fleet-measurement/1' },
    deviceId: level,
    ts: iso,
    /** the full board fingerprint (the topic holds a hash of it): a mismatch is refused */
    board: str(512),
    key: {
      type: 'object', required: ['sha256', 'resolution', 'ortVersion', 'provider', 'threads'], additionalProperties: false,
      properties: { sha256, resolution: integer(8, 4096), ortVersion: level, provider, threads: integer(1, 256) },
    },
    measurement: {
      type: 'object', additionalProperties: false,
      required: ['variantId', 'runs', 'p50Ms', 'p90Ms', 'p99Ms', 'meanMs', 'stddevMs', 'minMs', 'maxMs', 'sessionCreateMs', 'rssGrowthMb', 'peakMb', 'measuredAt'],
      properties: {
        variantId: str(200), runs: integer(1, 10_000_000),
        p50Ms: latency, p90Ms: latency, p99Ms: latency, meanMs: latency, stddevMs: { type: 'number', minimum: 0, maximum: 600_000 },
        minMs: latency, maxMs: latency, sessionCreateMs: { type: 'number', minimum: 0, maximum: 600_000 },
        rssGrowthMb: memory, peakMb: memory, measuredAt: iso,
      },
    },
  },
  additionalProperties: false,
};

export const fleetSchemas = { 'fleet-measurement': fleetMeasurementSchema };
