/**
 * Every error code edgefit uses, one form (`E_` + upper snake case). Each is documented in docs/errors.md (what it
 * means, what the user does); tests/unit/error-codes.test.ts keeps the two equal and fails on a code that src/
 * no longer uses. A code is a contract: it is printed by the CLI and carried by MQTT command replies.
 */
export const ERROR_CODES = [
  // command replies (src/mqtt/commands.ts) and the daemon's commands
  'E_UNKNOWN_VERB', 'E_TOO_LARGE', 'E_INVALID_JSON', 'E_INVALID_ARGS', 'E_REPLAY', 'E_BUSY', 'E_TIMEOUT', 'E_FAILED',
  'E_STOPPING', 'E_NO_FRAME', 'E_UNKNOWN_CAMERA', 'E_INVALID_REPLY',
  // flags, options, configuration, state
  'E_FLAGS', 'E_OPTIONS', 'E_CONFIG', 'E_STATE_DIR', 'E_BUDGET', 'E_ADAPT',
  // device
  'E_DEVICE_ROOT',
  // catalog, downloads, conversion
  'E_CATALOG', 'E_CATALOG_PATH', 'E_DOWNLOAD', 'E_MIRROR', 'E_MIRROR_NOT_ALLOWED', 'E_PULL', 'E_CONVERT', 'E_CONVERT_CRASHED',
  'E_SIGNATURE', 'E_CATALOG_REPLAY', 'E_ROLLOUT', 'E_ROLLOUT_EMPTY', 'E_FIDELITY',
  'E_NO_IMPORTER', 'E_NO_MODEL', 'E_NO_MODELS', 'E_ISOLATED',
  // models and importers
  'E_MODEL', 'E_MODEL_MISSING', 'E_MODEL_IO', 'E_MODEL_OUTPUT', 'E_MODELS_DIR', 'E_MODELS_CARD', 'E_CARD', 'E_LABELS',
  'E_IMPORT_FORMAT', 'E_IMPORT_READ', 'E_ONNX_PARSE', 'E_ONNX_DTYPE', 'E_ONNX_EXTERNAL', 'E_ONNX_IO', 'E_ONNX_LOAD', 'E_ONNX_UNSUPPORTED',
  'E_TFLITE_PARSE', 'E_TFLITE_INVALID', 'E_TFLITE_UNSUPPORTED', 'E_KERAS_READ', 'E_KERAS_FORMAT', 'E_KERAS_UNSUPPORTED', 'E_WEIGHTS',
  'E_GRAPH', 'E_QUANT', 'E_CALIB', 'E_IMAGE',
  // detection
  'E_DETECT_ANCHORS', 'E_DETECT_SHAPE', 'E_TFLITE_DETECTION', 'E_TASK',
  // several cameras, int8 weight forms
  'E_JOINT_INPUT', 'E_FAIR_QUEUE', 'E_SHARED_WORKERS', 'E_WEIGHT_FORM',
  // zoo
  'E_ZOO_FAMILY', 'E_ZOO_ALPHA', 'E_ZOO_RESOLUTION', 'E_ZOO_CLASSES', 'E_ZOO_ACTIVATION', 'E_ZOO_OPTION', 'E_ZOO_SEED', 'E_ZOO_WEIGHTS',
  // profiling and selection
  'E_PROFILE_VARIANT', 'E_CACHE_PATH', 'E_CACHE_READ', 'E_CACHE_PARSE', 'E_CACHE_KEY', 'E_CACHE_VALUE', 'E_PROBE_DIR', 'E_SELECT_DUPLICATE',
  // engine
  'E_ENGINE_UNKNOWN', 'E_ENGINE_UNAVAILABLE', 'E_ENGINE_MODULE', 'E_ENGINE_LOAD', 'E_ENGINE_LOAD_TIMEOUT', 'E_ENGINE_SHAPE', 'E_ENGINE_RUN', 'E_ENGINE_TIMEOUT',
  'E_ENGINE_CRASH', 'E_ENGINE_RESTARTING', 'E_ENGINE_DEGRADED', 'E_ENGINE_BUSY', 'E_ENGINE_CLOSED', 'E_FRAME_SIZE', 'E_ORT_BINDING',
  'E_OPTIMIZE', 'E_TFJS_BACKEND',
  // camera
  'E_CAMERA', 'E_CAMERA_CONFIG', 'E_CAMERA_MISSING', 'E_CAMERA_ENDED', 'E_CAMERA_STOPPED', 'E_ABORTED',
  // MQTT
  'E_BROKER_PORT', 'E_MQTT_AUTH', 'E_MQTT_REFUSED', 'E_MQTT_TLS', 'E_MQTT_OFFLINE', 'E_OUTBOX', 'E_OUTBOX_WRITE', 'E_OUTBOX_CLOSED', 'E_TOPIC_LEVEL', 'E_TOPIC_PREFIX',
  // dashboard
  'E_DASHBOARD_AUTH', 'E_DASHBOARD_LISTEN', 'E_DASHBOARD_ASSETS', 'E_DASHBOARD_BROKER', 'E_DASHBOARD_SUBSCRIBE', 'E_DASHBOARD_OFFLINE',
  'E_DASHBOARD_PUBLISH', 'E_DASHBOARD_ACL', 'E_SNAPSHOT', 'E_SNAPSHOT_TIMEOUT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const known: ReadonlySet<string> = new Set(ERROR_CODES);

/** A code that crossed a boundary (a worker, a child process, a reply) is one of ours. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && known.has(code);
}

/** An error whose message tells the user what to do; `cause` keeps the original. */
export class EdgefitError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgefitError';
    this.code = code;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
