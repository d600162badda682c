import type { JSONSchemaType } from 'ajv';
import type { Config } from './types.js';

/**
 * The single source of truth for edgefit's configuration: every field has a `default` and a `description`.
 * `x-accepted` is an annotation (registered with ajv as a keyword) that tells the user, in words, what a
 * pattern accepts; error messages quote it. `schemas/config.schema.json` is generated from this object
 * (`edgefit config --schema`) and a test keeps the committed copy identical.
 *
 * Two values are resolved at load time when left empty: `deviceId` (the host name, sanitised) and `stateDir`
 * (/var/lib/edgefit for root, else $XDG_STATE_HOME/edgefit or ~/.local/state/edgefit).
 */

// the same rule as src/mqtt/topics.ts validatePrefix, so what the loader accepts the daemon can use
const topicLevels = '^[A-Za-z0-9._-]{1,64}(/[A-Za-z0-9._-]{1,64}){0,3}$';
const topicLevelsWords = "topic levels of letters, digits, '.', '_', '-' separated by '/' (1-4 levels of 1-64 characters; no '+', '#', spaces or empty levels)";
const noControl = '^[^\\u0000-\\u001f\\u007f]*$';
const noControlWords = 'text without control characters';

const sourcePattern = '^(auto|synthetic|rpicam|/dev/video[0-9]+|(rtsp|rtsps|http|https)://[^\\s]+|(file|lavfi|folder):[^\\u0000-\\u001f]+|(?![A-Za-z][A-Za-z0-9+.-]*:)[^\\u0000-\\u001f]+)$';
const sourceWords = "'auto', 'synthetic', 'rpicam', '/dev/videoN', 'rtsp://…', 'http(s)://…', 'file:PATH' or a path to a video, 'lavfi:GRAPH' (e.g. lavfi:testsrc), 'folder:DIR' of images";
// a camera id is one topic level, as deviceId is (src/mqtt/topics.ts validateLevel)
const cameraIdPattern = '^[A-Za-z0-9._-]{1,64}$';
const cameraIdWords = "a topic level: letters, digits, '.', '_', '-' (1-64 characters; no '+', '#', '/', spaces or control characters)";

const schemaBody: JSONSchemaType<Config> = {
  type: 'object',
  description: 'edgefit daemon configuration',
  additionalProperties: false,
  required: ['deviceId', 'stateDir', 'camera', 'cameras', 'engine', 'budget', 'models', 'profile', 'adapt', 'mqtt', 'log', 'metrics', 'fleet'],
  properties: {
    deviceId: {
      type: 'string',
      default: '',
      maxLength: 64,
      pattern: '^[A-Za-z0-9._-]*$',
      'x-accepted': "letters, digits, '.', '_', '-' (1-64 characters; no '+', '#', '/', spaces or control characters)",
      description: 'Name of this device in MQTT topics and Home Assistant. Empty = the host name with every other character replaced by "-".',
    },
    stateDir: {
      type: 'string',
      default: '',
      pattern: noControl,
      'x-accepted': noControlWords,
      description: 'Where models, profiles and caches are written. Empty = /var/lib/edgefit when running as root, else $XDG_STATE_HOME/edgefit or ~/.local/state/edgefit. A leading ~/ is expanded.',
    },
    camera: {
      type: 'object',
      description: 'Frame source.',
      additionalProperties: false,
      required: ['source', 'width', 'height', 'fps', 'loop', 'watchdogSeconds', 'ffmpegPath'],
      properties: {
        source: {
          type: 'string',
          default: 'auto',
          pattern: sourcePattern,
          'x-accepted': sourceWords,
          description: "Camera: 'auto' (first /dev/video*, then rpicam, else synthetic), 'synthetic', 'rpicam', '/dev/videoN', 'rtsp://…', 'http(s)://…' (MJPEG or a stream ffmpeg reads), 'file:PATH' or a path to a video file, 'lavfi:testsrc…' (ffmpeg test graph), 'folder:DIR' (images, cycled).",
        },
        width: { type: 'integer', default: 640, minimum: 0, maximum: 8192, description: 'Capture width in pixels; 0 = the source\'s native size.' },
        height: { type: 'integer', default: 480, minimum: 0, maximum: 8192, description: 'Capture height in pixels; 0 = the source\'s native size.' },
        fps: { type: 'number', default: 15, minimum: 0, maximum: 240, description: 'Capture rate requested from the source; 0 = the source\'s own rate. Frames beyond what inference takes are dropped (latest frame wins).' },
        loop: { type: 'boolean', default: true, description: 'Restart a video file or image folder at its end.' },
        watchdogSeconds: { type: 'number', default: 10, exclusiveMinimum: 0, maximum: 3600, description: 'Restart the source when no frame arrived for this long.' },
        ffmpegPath: { type: 'string', default: 'ffmpeg', minLength: 1, pattern: noControl, 'x-accepted': 'a program name found on PATH or a path, without control characters', description: 'The ffmpeg program that reads cameras, streams and files (and lists a V4L2 device\'s formats); a name is looked up on PATH.' },
      },
    },
    cameras: {
      type: 'array',
      default: [],
      maxItems: 16,
      description: 'Several cameras on one board, each with its own task, frame rate and latency budget; the daemon chooses a model for each so that all of them fit together (docs/cameras.md). Fields left out take the daemon-wide value (camera.*, models.task, budget.*, mqtt.results.*). Empty = the one `camera` above, with id `main`. With two or more, results go to <prefix>/<deviceId>/<id>/result. As an environment variable or --set value: a JSON list.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'source'],
        properties: {
          id: { type: 'string', pattern: cameraIdPattern, 'x-accepted': cameraIdWords, description: 'The camera\'s name in topics (<prefix>/<deviceId>/<id>/result) and Home Assistant; unique.' },
          source: { type: 'string', pattern: sourcePattern, 'x-accepted': sourceWords, description: 'As camera.source.' },
          fps: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 240, description: 'Frames per second the camera delivers and must be served at; default camera.fps (or budget.fps when that is 0).' },
          task: { type: 'string', nullable: true, enum: ['imagenet', 'classification', 'person', 'detection'], description: 'As models.task, for this camera.' },
          priority: { type: 'integer', nullable: true, minimum: 0, maximum: 100, description: 'Higher is more important: the joint choice never lowers its accuracy so that a lower-priority camera gains; default 0.' },
          width: { type: 'integer', nullable: true, minimum: 0, maximum: 8192, description: 'As camera.width.' },
          height: { type: 'integer', nullable: true, minimum: 0, maximum: 8192, description: 'As camera.height.' },
          loop: { type: 'boolean', nullable: true, description: 'As camera.loop.' },
          watchdogSeconds: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 3600, description: 'As camera.watchdogSeconds.' },
          budget: {
            type: 'object', nullable: true, additionalProperties: false, required: [],
            description: 'This camera\'s latency budget (budget.percentile applies).',
            properties: {
              latencyMs: { type: 'number', nullable: true, minimum: 0, maximum: 600000, description: 'As budget.latencyMs.' },
              fps: { type: 'number', nullable: true, minimum: 0, maximum: 1000, description: 'As budget.fps.' },
            },
          },
          results: {
            type: 'object', nullable: true, additionalProperties: false, required: [],
            description: 'As mqtt.results, for this camera.',
            properties: {
              mode: { type: 'string', nullable: true, enum: ['every', 'change', 'threshold'], description: 'As mqtt.results.mode.' },
              threshold: { type: 'number', nullable: true, minimum: 0, maximum: 1, description: 'As mqtt.results.threshold.' },
              maxRatePerSecond: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 1000, description: 'As mqtt.results.maxRatePerSecond.' },
              labels: { type: 'array', nullable: true, uniqueItems: true, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 128, pattern: noControl, 'x-accepted': noControlWords }, description: 'As mqtt.results.labels.' },
              minScore: { type: 'number', nullable: true, minimum: 0, maximum: 1, description: 'As mqtt.results.minScore.' },
            },
          },
        },
      },
    },
    engine: {
      type: 'object',
      description: 'Inference runtime.',
      additionalProperties: false,
      required: ['providers', 'threads', 'timeoutMs', 'ortLibraryPath', 'trtFp16', 'modules'],
      properties: {
        providers: {
          type: 'array',
          default: ['tensorrt', 'cuda', 'cpu'],
          minItems: 1,
          uniqueItems: true,
          items: { type: 'string', enum: ['tensorrt', 'cuda', 'cpu', 'wasm', 'tfjs-node', 'tfjs-wasm'] },
          description: 'Execution providers tried in order; those the board lacks are skipped and reported. As an environment variable or --set value: a comma-separated list.',
        },
        threads: { type: 'integer', default: 0, minimum: 0, maximum: 256, description: 'Intra-op threads; 0 = measured by the profiler (the fastest count for this board).' },
        timeoutMs: { type: 'integer', default: 5000, minimum: 100, maximum: 600000, description: 'An inference that takes longer is abandoned and the engine worker restarted.' },
        ortLibraryPath: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'Path of a custom onnxruntime shared library (e.g. a Jetson build with TensorRT/CUDA); empty = the one bundled with onnxruntime-node.' },
        trtFp16: { type: 'boolean', default: false, description: 'Let TensorRT build FP16 engines (Jetson): faster, slightly less exact. Engines are cached in <stateDir>/trt-cache so later starts do not rebuild them.' },
        modules: {
          type: 'array',
          default: [],
          uniqueItems: true,
          items: { type: 'string', minLength: 1, pattern: '^(/|file:///)[^\\u0000-\\u001f\\u007f]*$', 'x-accepted': 'absolute paths (or file:/// URLs) of JavaScript modules' },
          description: 'JavaScript modules the inference worker imports before it loads the model, each registering engines of its own with registerEngine(name, factory, priority) (src/engine/registry.ts); the model runs on the highest-priority engine that loads it. Empty = the engines edgefit ships (onnxruntime). The profiler always measures with onnxruntime. As an environment variable or --set value: a comma-separated list.',
        },
      },
    },
    budget: {
      type: 'object',
      description: 'What the chosen model may cost. The selector picks the most accurate variant that fits.',
      additionalProperties: false,
      required: ['latencyMs', 'fps', 'percentile', 'memoryMb', 'memoryFraction', 'minAccuracy'],
      properties: {
        latencyMs: { type: 'number', default: 0, minimum: 0, maximum: 600000, description: 'Latency budget per inference at `percentile`, in ms; 0 = derived from `fps` (1000 / fps).' },
        fps: { type: 'number', default: 5, minimum: 0, maximum: 1000, description: 'Target inferences per second, used when `latencyMs` is 0.' },
        percentile: { type: 'integer', enum: [50, 90, 99], default: 90, description: 'Latency percentile the budget applies to: 50, 90 or 99 (90 = p90; the profiler records only these three).' },
        memoryMb: { type: 'number', default: 0, minimum: 0, maximum: 10000000, description: 'Memory budget for the model session in MB; 0 = `memoryFraction` of the memory available (cgroup limit included).' },
        memoryFraction: { type: 'number', default: 0.5, exclusiveMinimum: 0, maximum: 1, description: 'Share of available memory the model may use when `memoryMb` is 0.' },
        minAccuracy: { type: 'number', default: 0, minimum: 0, maximum: 1, description: 'Refuse variants whose accuracy (0..1, published or estimated) is below this, unknown, or in doubt (demoted by the measured agreement).' },
      },
    },
    models: {
      type: 'object',
      description: 'Model catalog and downloads.',
      additionalProperties: false,
      required: ['catalog', 'mirror', 'task', 'allowZooFallback', 'downloadTimeoutSeconds', 'maxDownloadMb', 'pullTimeoutSeconds', 'allowAnyUrl', 'publicKey'],
      properties: {
        catalog: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'Path of the model catalog (JSON); empty = models/catalog.json shipped with edgefit.' },
        mirror: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'Where `models pull` fetches files instead of upstream: an http(s) URL or a local directory laid out like the catalog\'s relative file paths. Empty = upstream URLs.' },
        task: { type: 'string', enum: ['imagenet', 'classification', 'person', 'detection'], default: 'imagenet', description: "Which kind of model to run: 'imagenet' (1000 classes; 'classification' is the same), 'person' (person / no person) or 'detection' (an object detector: boxes with labels and scores, see docs/detection.md)." },
        allowZooFallback: { type: 'boolean', default: true, description: 'With no pretrained model on disk, run zoo-generated models (random weights: their labels are meaningless) so the pipeline and measurements still work.' },
        downloadTimeoutSeconds: { type: 'number', default: 300, exclusiveMinimum: 0, maximum: 86400, description: 'Abandon one download after this long.' },
        maxDownloadMb: { type: 'number', default: 200, exclusiveMinimum: 0, maximum: 10000, description: 'Refuse a download larger than this.' },
        pullTimeoutSeconds: { type: 'number', default: 1800, exclusiveMinimum: 0, maximum: 86400, description: 'A `pull-model` command (downloads and conversion, in a child process) is killed after this long; the running model is unchanged.' },
        allowAnyUrl: { type: 'boolean', default: false, description: "Let a `pull-model` command name any mirror. Off: a command's mirror must be `mirror` above or an https URL on a host of the catalog's own URLs; anything else is refused (E_MIRROR_NOT_ALLOWED). `edgefit models pull --mirror` on the board is not limited." },
        publicKey: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'PEM file of the Ed25519 public key catalogs must be signed with (`edgefit catalog keygen`, `edgefit catalog sign`). Set: a catalog without a valid `<catalog>.sig`, signed by another key, over other bytes, or older than the last one accepted (its `catalogVersion`) is refused (E_SIGNATURE, E_CATALOG_REPLAY). Empty = catalogs are not checked. See docs/fleet.md.' },
      },
    },
    profile: {
      type: 'object',
      description: 'Measurement of each variant on this board.',
      additionalProperties: false,
      required: ['minRuns', 'minSeconds', 'warmupRuns', 'probeDir', 'minAgreement'],
      properties: {
        minRuns: { type: 'integer', default: 30, minimum: 1, maximum: 100000, description: 'Timed inferences per variant, at least.' },
        minSeconds: { type: 'number', default: 3, minimum: 0, maximum: 3600, description: 'Time spent measuring each variant, at least.' },
        warmupRuns: { type: 'integer', default: 5, minimum: 0, maximum: 10000, description: 'Untimed inferences before measuring (caches, lazy allocation, clocks ramping up).' },
        probeDir: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'Directory of photos (JPEG, PNG, BMP) on which each reduced-resolution rung is compared with its model at the native resolution (top-1 agreement). Empty = <stateDir>/probe-frames, which the daemon fills with frames of a real camera while it runs.' },
        minAgreement: { type: 'number', default: 0.5, minimum: 0, maximum: 1, description: 'A reduced-resolution rung whose top-1 agrees with its native model on fewer than this fraction of the probe frames is demoted below every rung whose accuracy stands; 0 = never demote.' },
      },
    },
    adapt: {
      type: 'object',
      description: 'Live re-selection when the measured latency drifts (thermal throttling, other load).',
      additionalProperties: false,
      required: ['enabled', 'windowSeconds', 'cooldownSeconds', 'hysteresis'],
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Re-select the model when live latency leaves the budget.' },
        windowSeconds: { type: 'number', default: 30, exclusiveMinimum: 0, maximum: 86400, description: 'Live latency is judged over this sliding window.' },
        cooldownSeconds: { type: 'number', default: 120, minimum: 0, maximum: 86400, description: 'Minimum time between two model switches.' },
        hysteresis: { type: 'number', default: 0.15, minimum: 0, maximum: 1, description: 'Step down when latency exceeds the budget; step up only when the larger variant fits with this fraction to spare.' },
      },
    },
    mqtt: {
      type: 'object',
      description: 'Where results and telemetry go.',
      additionalProperties: false,
      required: ['url', 'prefix', 'protocolVersion', 'username', 'password', 'tls', 'keepaliveSeconds', 'reconnectMaxSeconds', 'results', 'telemetrySeconds', 'outbox', 'homeAssistant'],
      properties: {
        url: {
          type: 'string',
          default: '',
          pattern: '^((mqtts?|wss?|tcp|ssl)://[^\\s]+)?$',
          'x-accepted': "empty or a URL mqtt://, mqtts://, ws://, wss://, tcp://, ssl:// (e.g. mqtt://broker.local:1883)",
          description: 'Broker URL; empty = an embedded broker on 127.0.0.1:1883.',
        },
        prefix: { type: 'string', default: 'edgefit', pattern: topicLevels, 'x-accepted': topicLevelsWords, description: 'Topic prefix: topics are <prefix>/<deviceId>/….' },
        protocolVersion: { type: 'integer', enum: [4, 5], default: 5, description: 'MQTT protocol: 5, or 4 (3.1.1). With 5, a broker that refuses it is retried with 4.' },
        username: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'Broker user name; empty = anonymous.' },
        password: { type: 'string', default: '', description: 'Broker password (shown redacted by `config --print`).' },
        tls: {
          type: 'object',
          description: 'TLS for mqtts:// and wss:// brokers.',
          additionalProperties: false,
          required: ['ca', 'cert', 'key', 'rejectUnauthorized'],
          properties: {
            ca: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'PEM file of the CA that signed the broker certificate; empty = the system CAs.' },
            cert: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'PEM client certificate file for mutual TLS; empty = none.' },
            key: { type: 'string', default: '', pattern: noControl, 'x-accepted': noControlWords, description: 'PEM private key file of the client certificate.' },
            rejectUnauthorized: { type: 'boolean', default: true, description: 'Refuse a broker certificate that does not verify. Turn off only for testing.' },
          },
        },
        keepaliveSeconds: { type: 'integer', default: 30, minimum: 0, maximum: 65535, description: 'MQTT keepalive; the broker publishes the last will after 1.5x this without traffic.' },
        reconnectMaxSeconds: { type: 'number', default: 60, minimum: 1, maximum: 3600, description: 'Longest wait between reconnect attempts: delays grow exponentially from 1 s with full jitter up to this, so a fleet does not reconnect all at once.' },
        results: {
          type: 'object',
          description: 'When results are published, and what a detector\'s result holds.',
          additionalProperties: false,
          required: ['mode', 'threshold', 'maxRatePerSecond', 'labels', 'minScore'],
          properties: {
            mode: { type: 'string', enum: ['every', 'change', 'threshold'], default: 'change', description: "'every' frame; on a 'change' (classification: of the top class; detection: of the set of labels seen or of a count, never of a score alone); or when the best score (top-1, or the best detection) is at or above `threshold`." },
            threshold: { type: 'number', default: 0.1, minimum: 0, maximum: 1, description: "Score (0..1) the top-1 class or the best detection needs for a result to be published in 'threshold' mode." },
            maxRatePerSecond: { type: 'number', default: 5, exclusiveMinimum: 0, maximum: 1000, description: 'Publish at most this many results per second.' },
            labels: {
              type: 'array', default: [], uniqueItems: true, maxItems: 1000,
              items: { type: 'string', minLength: 1, maxLength: 128, pattern: noControl, 'x-accepted': noControlWords },
              description: 'Only these labels are reported (detections and their counts; for a classifier, the entries of `top`); empty = every label. As an environment variable or --set value: a comma-separated list.',
            },
            minScore: { type: 'number', default: 0.5, minimum: 0, maximum: 1, description: 'Detections scoring below this (0..1) are left out of the result and its counts (detection task; a classifier\'s results use `threshold`).' },
          },
        },
        telemetrySeconds: { type: 'number', default: 30, minimum: 1, maximum: 86400, description: 'Interval between telemetry messages.' },
        outbox: {
          type: 'object',
          description: 'Messages kept while the broker is unreachable (oldest dropped first, and counted).',
          additionalProperties: false,
          required: ['maxMessages', 'maxBytes'],
          properties: {
            maxMessages: { type: 'integer', default: 1000, minimum: 1, maximum: 10000000, description: 'Most messages held; at least 1 (a message is held until the broker acknowledges it).' },
            maxBytes: { type: 'integer', default: 1048576, minimum: 0, maximum: 1073741824, description: 'Most payload bytes held.' },
          },
        },
        homeAssistant: {
          type: 'object',
          description: 'Home Assistant MQTT discovery.',
          additionalProperties: false,
          required: ['enabled', 'prefix', 'watchLabels'],
          properties: {
            enabled: { type: 'boolean', default: true, description: 'Publish retained discovery messages so Home Assistant creates the sensors.' },
            prefix: { type: 'string', default: 'homeassistant', pattern: topicLevels, 'x-accepted': topicLevelsWords, description: 'Home Assistant discovery prefix.' },
            watchLabels: {
              type: 'array', default: ['person'], uniqueItems: true, maxItems: 100,
              items: { type: 'string', minLength: 1, maxLength: 128, pattern: noControl, 'x-accepted': noControlWords },
              description: 'Detection task: the labels that get a Home Assistant binary sensor ("person detected") and a count sensor each. As an environment variable or --set value: a comma-separated list.',
            },
          },
        },
      },
    },
    fleet: {
      type: 'object',
      description: 'Working as one of a fleet on a shared broker (mqtt.url): shared measurements, rollouts. See docs/fleet.md.',
      additionalProperties: false,
      required: ['shareMeasurements', 'useMeasurements', 'seedWaitSeconds', 'group', 'provingSeconds'],
      properties: {
        shareMeasurements: { type: 'boolean', default: false, description: 'Publish this device\'s own profile measurements, retained, under <prefix>/fleet/measurements/<board fingerprint>/…, for devices with the same fingerprint.' },
        useMeasurements: { type: 'boolean', default: false, description: 'Seed the first selection from the fleet\'s measurements of this exact board fingerprint and runtime, then confirm the pick with one measurement of its own (and of the next rung on a miss). Own measurements always win; out-of-range figures are refused.' },
        seedWaitSeconds: { type: 'number', default: 3, exclusiveMinimum: 0, maximum: 60, description: 'How long the start waits for the broker\'s retained fleet measurements before selecting without them.' },
        group: { type: 'string', default: '', maxLength: 64, pattern: '^[A-Za-z0-9._-]*$', 'x-accepted': "letters, digits, '.', '_', '-' (1-64 characters), or empty", description: 'Rollout group this device belongs to (`edgefit rollout start --group`); empty = it takes part in no rollout. Taking part needs models.publicKey (only signed catalogs are taken) and an external mqtt.url.' },
        provingSeconds: { type: 'number', default: 60, exclusiveMinimum: 0, maximum: 86400, description: "How long a rollout's new model runs before this device reports its health (p90 and fps against the previous model's, crashes and restarts, and its fidelity to the previous model on the probe frames)." },
      },
    },
    log: {
      type: 'object',
      description: 'Logging (to stderr).',
      additionalProperties: false,
      required: ['level', 'json'],
      properties: {
        level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info', description: 'Least severe level written.' },
        json: { type: 'boolean', default: false, description: 'One JSON object per line instead of text (for journald/log shippers).' },
      },
    },
    metrics: {
      type: 'object',
      description: "The daemon's own Prometheus endpoint: GET http://127.0.0.1:<port>/metrics, on loopback only, for a scraper on the device (docs/dashboard.md).",
      additionalProperties: false,
      required: ['port'],
      properties: {
        port: { type: 'integer', default: 0, minimum: 0, maximum: 65535, description: 'Loopback port of /metrics; 0 = off.' },
      },
    },
  },
};

type Node = Record<string, unknown> & { type?: unknown; properties?: Record<string, Node>; default?: unknown };

/** Objects get their full default built from their children, so the published schema shows every default in place. */
function fillObjectDefaults(node: Node): unknown {
  if (node.type === 'object' && node.properties) {
    const d: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(node.properties)) d[k] = fillObjectDefaults(child);
    node.default = d;
    return d;
  }
  return node.default;
}
fillObjectDefaults(schemaBody as unknown as Node);

export const configSchema: JSONSchemaType<Config> = schemaBody;

/** The schema as published in schemas/config.schema.json. */
export function publishedSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/edgefit/edgefit/schemas/config.schema.json',
    title: 'edgefit configuration',
    ...(configSchema as unknown as Record<string, unknown>),
  };
}
