/**
 * Payload types of every topic. The JSON Schemas in schemas.ts describe the same shapes for consumers and
 * tests; topicMap ties each topic kind to its payload so a topic and its payload cannot drift apart.
 */

export type DeviceState = 'online' | 'stopped' | 'offline' | 'degraded';

export interface StatusPayload {
  state: DeviceState;
  /** increases with every connection, so a consumer can discard a will from an older connection */
  session: number;
  deviceId: string;
  ts: string;
  version: string;
  /** set while the daemon runs on seeded zoo weights: labels mean nothing until real weights are pulled */
  warning?: string;
}

export interface CandidateSummary {
  id: string;
  family: string;
  alpha: number;
  resolution: number;
  precision: string;
  provider?: string;
  referenceAccuracy?: number;
  /** the top-1 (0..1) the selector ranked it by, and whether that figure is published or estimated */
  accuracy?: number;
  accuracyKind?: 'published' | 'estimated';
  /** measured: top-1 agreement (0..1) with the native-resolution model on `probeFrames` probe frames */
  agreement?: number;
  probeFrames?: number;
  /** why the rung ranks below the ones whose accuracy stands (its agreement is under the threshold) */
  demoted?: string;
  macs: number;
  p90Ms?: number;
  peakMb?: number;
  chosen: boolean;
  reason?: string;
  detail?: string;
  /** with a fleet seed only: whose figures ranked it, this device's ('own') or devices of the same fingerprint ('fleet') */
  figures?: 'own' | 'fleet';
}

export interface ModelPayload {
  deviceId: string;
  session: number;
  ts: string;
  variant: {
    id: string; family: string; alpha: number; resolution: number; precision: string;
    referenceAccuracy?: number; accuracy?: number; accuracyKind?: 'published' | 'estimated';
    macs: number; params: number; pretrained: boolean; source: string;
  };
  provider: string;
  threads: number;
  /** why this variant: the rule that picked it and the budget */
  reason: string;
  budget: { latencyMs?: number; percentile?: string; memoryMb?: number; minAccuracy?: number };
  measurement: { p50Ms: number; p90Ms: number; p99Ms: number; peakMb: number } | null;
  candidates: CandidateSummary[];
  measured: number;
  ladder: number;
  labelsMeaningful: boolean;
  board: string;
  /** several cameras: the joint choice, one entry per camera (the top-level variant is the first camera's) */
  cameras?: CameraModel[];
  /** several cameras: how the set was chosen and what it costs */
  joint?: JointSummary;
  /** set when the selection was seeded from the fleet's shared measurements (docs/fleet.md); several cameras: the first camera's */
  fleet?: FleetUsePayload;
}

/** What a selection owes to the fleet's shared measurements (docs/fleet.md). */
export interface FleetUsePayload {
  /** candidates ranked on figures other devices measured, and on this device's own */
  fleetCandidates: number; ownCandidates: number;
  /** candidates measured here to confirm a pick made on fleet figures, in order */
  confirmed: string[];
  /** whether the running variant's figures are this device's own (always, once confirmed) */
  chosenFigures: 'own' | 'fleet';
  devices: string[]; refused: number;
}

export interface CameraModel {
  id: string;
  variant: string;
  task: 'classification' | 'detection';
  provider: string;
  threads: number;
  /** frames per second it is served at */
  fps: number;
  /** why this variant: the joint rule, a step down after the concurrent measurement, a live change */
  reason: string;
  priority: number;
  budgetMs: number;
  /** predicted p90 with the waits for the other cameras (ms), and the cores it keeps busy */
  predictedP90Ms: number;
  demand: number;
  accuracy?: number;
  resolution: number;
  /** when no set fits: by how much this camera misses */
  misses?: string[];
  /** measured running together at the start, when verified */
  measured?: { fps: number; p90Ms: number; served: number };
  /** the camera's own selection was seeded from the fleet's shared measurements (docs/fleet.md) */
  fleet?: FleetUsePayload;
}

export interface JointSummary {
  /** false: no set fits every camera; the smallest set runs */
  feasible: boolean;
  rule: string;
  cores: number;
  slowdown: number;
  capacity: number;
  demand: number;
  memoryMb: number;
  /** measurements of the set running together (0: not verified) and whether the last met every camera */
  verifiedRounds: number;
  met: boolean | null;
}

export interface CameraTelemetry {
  id: string;
  variant: string;
  /** results per second over the window */
  fps: number;
  p90Ms: number;
  /** frames dropped in the window: replaced by a newer one in the camera's ring or the fair queue */
  dropped: number;
  status: 'running' | 'offline';
  /** frames answered since the start, and restarts of the camera's source */
  inferred: number;
  restarts: number;
  /** dropped since the start (the window's figure is `dropped`) */
  droppedTotal: number;
}

export interface TopEntry { index: number; label: string; score: number }

/** One detected object: `box` is [ymin, xmin, ymax, xmax], fractions (0..1) of the whole frame. */
export interface DetectionEntry { label: string; index: number; score: number; box: [number, number, number, number] }

export interface ResultPayload {
  deviceId: string;
  /** several cameras: the camera's id (its topic is <prefix>/<deviceId>/<camera>/result) */
  camera?: string;
  session: number;
  seq: number;
  /** ms since the epoch when the frame arrived from the camera */
  frameTs: number;
  ts: string;
  variant: string;
  /** classification: the best classes; a detector's results have it empty */
  top: TopEntry[];
  /** detection task: the objects at or above mqtt.results.minScore (and of mqtt.results.labels), best first */
  detections?: DetectionEntry[];
  /** detection task: how many detections per label (labels not seen are absent) */
  counts?: Record<string, number>;
  /** frame arrival to result ready */
  latencyMs: number;
  inferMs: number;
}

export interface Percentiles { p50: number; p90: number; p99: number }

export interface TelemetryPayload {
  deviceId: string;
  session: number;
  ts: string;
  windowSeconds: number;
  variant: string;
  provider: string;
  paused: boolean;
  frames: { in: number; inferred: number; dropped: number };
  fps: number;
  latencyMs: Percentiles;
  inferMs: Percentiles;
  cpuPercent: number;
  rssMb: number;
  temperatureC: number | null;
  throttled: string[] | null;
  /** results waiting, dropped by the bound, and refused because the disk would not take them */
  outbox: { depth: number; dropped: number; refused: number };
  reconnects: number;
  engine: { restarts: number; timeouts: number; crashes: number; degraded: boolean };
  camera: { online: boolean; stalls: number; restarts: number; lastError?: string };
  eventLoopDelayP99Ms: number;
  /** several cameras: one entry per camera (the top-level figures are summed, latency the worst camera's) */
  cameras?: CameraTelemetry[];
}

export interface EventPayload {
  deviceId: string;
  session: number;
  /** from the same durable counter as results, so a consumer can account for every seq */
  seq?: number;
  ts: string;
  type: 'switch' | 'camera' | 'engine' | 'outbox';
  message: string;
  from?: string;
  to?: string;
}

export const COMMAND_VERBS = ['reselect', 'set-budget', 'pause', 'resume', 'pull-model', 'snapshot'] as const;
export type CommandVerb = (typeof COMMAND_VERBS)[number];

export interface CommandArgs {
  reselect: Record<string, never>;
  'set-budget': { latencyMs?: number; fps?: number; memoryMb?: number; minAccuracy?: number };
  pause: Record<string, never>;
  resume: Record<string, never>;
  'pull-model': { id?: string; mirror?: string };
  /** `camera`: which camera's frame (several cameras; default the first) */
  snapshot: { quality?: number; camera?: string };
}

export interface CommandRequest<V extends CommandVerb = CommandVerb> {
  /** echoed in the reply; also the replay guard (a seen id is refused) */
  id?: string;
  args?: CommandArgs[V];
}

export interface ReplyPayload {
  id?: string;
  verb: string;
  ok: boolean;
  result?: unknown;
  /** `code`: an ErrorCode (docs/errors.md); a string on the wire, as older devices sent kebab-case codes */
  error?: { code: string; message: string };
}

export interface TopicPayloads {
  status: StatusPayload;
  model: ModelPayload;
  result: ResultPayload;
  telemetry: TelemetryPayload;
  event: EventPayload;
}
