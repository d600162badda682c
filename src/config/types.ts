import type { ProviderName } from '../types/provider.js';
import type { LogLevel } from '../types/log.js';

export type { LogLevel } from '../types/log.js';

/**
 * The daemon's whole configuration, after defaults, file, environment and flags are merged and validated.
 * `schema.ts` is typed as `JSONSchemaType<Config>`, so the compiler keeps this type and the schema identical.
 */
export interface Config {
  deviceId: string;
  stateDir: string;
  camera: CameraConfig;
  /** several cameras on one board (docs/cameras.md); empty = the one `camera` above, with id `main` */
  cameras: CameraEntry[];
  engine: EngineConfig;
  budget: BudgetConfig;
  models: ModelsConfig;
  profile: ProfileConfig;
  adapt: AdaptConfig;
  mqtt: MqttConfig;
  log: LogConfig;
  metrics: MetricsConfig;
  fleet: FleetConfig;
}

/** The daemon's loopback /metrics (src/daemon/metrics-service.ts) */
export interface MetricsConfig {
  /** 0 = off */
  port: number;
}

export interface FleetConfig {
  shareMeasurements: boolean;
  useMeasurements: boolean;
  seedWaitSeconds: number;
  group: string;
  provingSeconds: number;
}

export interface CameraConfig {
  source: string;
  width: number;
  height: number;
  fps: number;
  loop: boolean;
  watchdogSeconds: number;
  ffmpegPath: string;
}

/**
 * One camera of several. Unset fields take the daemon-wide value: `camera.*` for the capture, `models.task`,
 * `budget.*` and `mqtt.results.*` (src/config/cameras.ts resolves them).
 */
export interface CameraEntry {
  /** a topic level: `<prefix>/<deviceId>/<id>/result` */
  id: string;
  source: string;
  fps?: number;
  task?: ModelTask;
  /** higher is more important: the joint choice never trades its accuracy for a lower camera's */
  priority?: number;
  width?: number;
  height?: number;
  loop?: boolean;
  watchdogSeconds?: number;
  budget?: { latencyMs?: number; fps?: number };
  results?: Partial<MqttConfig['results']>;
}

export interface EngineConfig {
  providers: ProviderName[];
  threads: number;
  timeoutMs: number;
  ortLibraryPath: string;
  trtFp16: boolean;
  /** modules the engine worker imports first (absolute paths or file:/// URLs); they may register engines */
  modules: string[];
}

/** budget.percentile: the percentiles the profiler records (p50, p90, p99) and no other */
export type BudgetPercentile = 50 | 90 | 99;

export interface BudgetConfig {
  latencyMs: number;
  fps: number;
  percentile: BudgetPercentile;
  memoryMb: number;
  memoryFraction: number;
  minAccuracy: number;
}

/** 'classification' is the documented synonym of 'imagenet' (see `catalogTaskOf`) */
export type ModelTask = 'imagenet' | 'classification' | 'person' | 'detection';

export interface ModelsConfig {
  catalog: string;
  mirror: string;
  task: ModelTask;
  allowZooFallback: boolean;
  downloadTimeoutSeconds: number;
  maxDownloadMb: number;
  pullTimeoutSeconds: number;
  allowAnyUrl: boolean;
  /** PEM file of the Ed25519 key catalogs must be signed with; empty = not checked */
  publicKey: string;
}

export interface ProfileConfig {
  minRuns: number;
  minSeconds: number;
  warmupRuns: number;
  probeDir: string;
  minAgreement: number;
}

export interface AdaptConfig {
  enabled: boolean;
  windowSeconds: number;
  cooldownSeconds: number;
  hysteresis: number;
}

export type ResultsMode = 'every' | 'change' | 'threshold';

export interface MqttConfig {
  url: string;
  prefix: string;
  protocolVersion: 4 | 5;
  username: string;
  password: string;
  tls: { ca: string; cert: string; key: string; rejectUnauthorized: boolean };
  keepaliveSeconds: number;
  reconnectMaxSeconds: number;
  results: { mode: ResultsMode; threshold: number; maxRatePerSecond: number; labels: string[]; minScore: number };
  telemetrySeconds: number;
  outbox: { maxMessages: number; maxBytes: number };
  homeAssistant: { enabled: boolean; prefix: string; watchLabels: string[] };
}

export interface LogConfig {
  level: LogLevel;
  json: boolean;
}

/** Where each effective value came from, keyed by its dotted path (e.g. "mqtt.url"). */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';
